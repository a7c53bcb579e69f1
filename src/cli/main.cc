#include <cstdio>
int main() { std::puts("vecperf"); return 0; }
