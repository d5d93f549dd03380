/*
 * An unmodified C++ program for chains.sh (see chain_c.c for the output):
 * new, std::string, std::vector, std::map, and a std::thread.  Everything
 * allocated by the named functions stays live until exit.  The functions
 * are extern "C" so that allocinfo's func: names are plain.
 */
#include <malloc.h>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

static std::vector<std::string *> *names;
static std::map<int, int> *the_map;
static std::vector<int> *vec;
static void *thread_kept[16];
static size_t thread_bytes;

extern "C" __attribute__((noipa)) size_t load_names(int n)
{
	size_t b = 0;
	for (int i = 0; i < n; i++) {
		std::string *s = new std::string(100, 'x');
		b += malloc_usable_size(s) + malloc_usable_size(&(*s)[0]);
		(*names)[i] = s;
	}
	return b;
}

extern "C" __attribute__((noipa)) size_t build_map(int n)
{
	the_map = new std::map<int, int>;
	size_t b = malloc_usable_size(the_map);
	for (int i = 0; i < n; i++)
		(*the_map)[i] = i;
	return b; /* the nodes are added by the caller (main) */
}

extern "C" __attribute__((noipa)) size_t fill_vector(int n)
{
	vec = new std::vector<int>;
	vec->reserve(n);
	for (int i = 0; i < n; i++)
		vec->push_back(i);
	return malloc_usable_size(vec) + malloc_usable_size(vec->data());
}

extern "C" __attribute__((noipa)) void thread_work(void)
{
	for (int i = 0; i < 16; i++) {
		thread_kept[i] = malloc(64);
		thread_bytes += malloc_usable_size(thread_kept[i]);
	}
}

int main()
{
	names = new std::vector<std::string *>(1000);
	size_t b = load_names(1000);
	std::printf("expect load_names %zu 2000\n", b);

	b = build_map(5000);
	/* every node has the same size; a node starts with its
	 * _Rb_tree_node_base (32 bytes), then the value */
	for (auto &kv : *the_map)
		b += malloc_usable_size(reinterpret_cast<char *>(&kv) - 32);
	std::printf("expect build_map %zu 5001\n", b);

	b = fill_vector(1000);
	std::printf("expect fill_vector %zu 2\n", b);

	std::thread t(thread_work);
	t.join();
	std::printf("expect thread_work %zu 16\n", thread_bytes);
	std::fflush(stdout);
	return 0;
}
