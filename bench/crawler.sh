#!/usr/bin/env bash
# The crawler path's cost per packet: a capture of HTTP from 1,000 VMs to 50
# sites (keep-alive connections of 8 requests, some split across segments,
# every response on the wire, each site's robots.txt reply) read through
# libpcap with the daemon's filter into the wire and the crawler (request
# heads read, each judged against its site's robots.txt), against tcpdump -r
# with the same filter on the same file writing nothing. Both read from the
# page cache after a first read warms it.
# Usage: bench/crawler.sh BUILD [--smoke]
set -u
BUILD=$(realpath "${1:-build}")
sessions=100000 runs=5
[ "${2:-}" = --smoke ] && sessions=2000 runs=1
WORK=$(mktemp -d /tmp/abuseguard-bench-crawler.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
capture=$WORK/http.pcap

"$BUILD/bench/bench_crawler" --write "$capture" --sessions "$sessions" >"$WORK/write" || exit 1
cat "$capture" >/dev/null
"$BUILD/bench/bench_crawler" --read "$capture" >"$WORK/first" || exit 1
filter=$(sed -n 's/.* filter //p' "$WORK/first")

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
tcpdump_ms=() crawler_ms=()
for _ in $(seq "$runs"); do
	start=$(now_us)
	tcpdump -r "$capture" -w /dev/null "$filter" 2>/dev/null || exit 1
	tcpdump_ms+=($((($(now_us) - start) / 1000)))
	start=$(now_us)
	"$BUILD/bench/bench_crawler" --read "$capture" >"$WORK/read" || exit 1
	crawler_ms+=($((($(now_us) - start) / 1000)))
done
t=$(median "${tcpdump_ms[@]}")
c=$(median "${crawler_ms[@]}")
read -r _ packets _ requests _ robots _ findings _ <"$WORK/read"
printf 'row\tCrawler path (libpcap, HTTP, robots.txt)\t%s\t%s\t%s\n' \
	"$(awk -v c="$c" -v t="$t" 'BEGIN { printf "%.2fx tcpdump -r with the same filter", c / (t > 0 ? t : 1) }')" \
	"$(awk -v c="$c" -v t="$t" -v p="$packets" -v r="$requests" 'BEGIN { printf "crawler path %d ms = %.0f ns/packet, %.0f requests parsed and judged/s; tcpdump -r -w /dev/null %d ms = %.0f ns/packet", c, c * 1e6 / p, r / (c / 1000), t, t * 1e6 / p }'); ${robots} robots.txt replies from the wire, ${findings} findings" \
	"${packets} packets, ${requests} requests, ${sessions} connections from 1000 VMs to 50 sites; ${runs} runs, median"
