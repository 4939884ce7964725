#!/bin/sh
# An ssh replacement for Open MPI (--mca plm_rsh_agent): called as
#   netns_agent.sh [-options...] HOST COMMAND
# it runs COMMAND in HOST's network namespace under HOST's own hostname.
while [ $# -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
host=$1
shift
case "$host" in
  aevbh1 | 10.77.0.1) ns=aevbh1 ;;
  aevbh2 | 10.77.0.2) ns=aevbh2 ;;
  *) echo "netns_agent: unknown host $host" >&2; exit 255 ;;
esac
exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname $ns; $*"
