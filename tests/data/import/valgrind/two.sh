#!/bin/sh
./prog > /dev/null
./cxx > /dev/null
echo "two.sh: done" >&2
