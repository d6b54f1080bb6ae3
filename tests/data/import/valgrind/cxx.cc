#include <cstdio>
#include <new>
struct alignas(64) A { char c[64]; };
int main()
{
	int *i = new int(5);
	int *arr = new int[100];
	A *a = new A;
	A *aa = new A[3];
	delete a;
	delete[] aa;
	delete i;
	delete[] arr;
	int *n = new (std::nothrow) int[10];
	delete[] n;
	std::printf("done\n");
	return 0;
}
