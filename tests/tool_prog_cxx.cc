// An unmodified C++ program for alloctag_cmd.sh: operator new through
// std::string, std::vector and std::map, everything kept until exit (the
// containers are never destroyed).  load_names() makes 1000
// `new std::string(100, 'x')` (2 allocations each), build_map() fills a
// std::map<int, int> with 5000 entries (one node each); with the two
// containers and the vector's final buffer: 7003 live allocations through
// operator new.  Prints "usable BYTES": the sum of their usable sizes.
#include <malloc.h>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

static std::vector<std::string *> *names;
static std::map<int, int> *m;

__attribute__((noinline)) void load_names(int n)
{
	for (int i = 0; i < n; i++)
		names->push_back(new std::string(100, 'x'));
}

__attribute__((noinline)) void build_map(int n)
{
	for (int i = 0; i < n; i++)
		(*m)[i] = i;
}

int main()
{
	names = new std::vector<std::string *>;
	m = new std::map<int, int>;
	load_names(1000);
	build_map(5000);
	size_t sum = malloc_usable_size(names) + malloc_usable_size(m) +
		     malloc_usable_size(names->data());
	for (std::string *s : *names)
		sum += malloc_usable_size(s) + malloc_usable_size(&(*s)[0]);
	for (auto &kv : *m) // a node: 32 bytes of tree links, then the value
		sum += malloc_usable_size(reinterpret_cast<char *>(&kv) - 32);
	std::printf("usable %zu\n", sum);
	return 0;
}
