// A C++ container workload for bench/chains/run.py: std::map, std::unordered_map,
// std::vector and std::string built, searched and torn down, as a service's
// request handling does.  Prints a checksum (the same under every allocator).
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

static unsigned long step(int round)
{
	std::map<int, std::string> by_id;
	std::unordered_map<std::string, int> by_name;
	std::vector<std::string> log;
	unsigned long sum = 0;
	for (int i = 0; i < 60000; i++) {
		std::string name = "user-" + std::to_string(i * 7919 % 100003) + "-" + std::to_string(round);
		by_id.emplace(i, name);
		by_name[name] = i;
		if (i % 3 == 0)
			log.push_back(name + " logged in");
	}
	for (int i = 0; i < 60000; i += 2) {
		auto it = by_id.find(i);
		sum += by_name[it->second];
		by_id.erase(it);
	}
	for (auto &s : log)
		sum += s.size();
	return sum;
}

int main()
{
	unsigned long sum = 0;
	for (int r = 0; r < 8; r++)
		sum += step(r);
	std::printf("%lu\n", sum);
	return 0;
}
