my %h; for my $i (1..400000) { $h{"key$i"} = "x" x ($i % 200); }
my @a = sort keys %h; my $s = 0; for (@a) { $s += length($h{$_}); delete $h{$_} if $s % 3 == 0 } print scalar(@a), " $s\n";
