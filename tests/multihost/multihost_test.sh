#!/usr/bin/env bash
# Multi-host MPI training over TCP between two "hosts": network namespaces
# aevbh1 and aevbh2 joined by a veth pair (10.77.0.1, 10.77.0.2), each with its
# own hostname (unshare --uts; two hosts must not share vader segment names),
# and an ssh replacement (netns_agent.sh) that starts Open MPI's daemons in the
# right namespace. 4 ranks, 2 per host, must give the same parameters as 4
# ranks on one host, up to floating-point summation order.
# Exit 77 = skipped (needs root and iproute2).
set -uo pipefail
BIN=${AEVB_BIN:?set AEVB_BIN (the build directory)}
L=${AEVB_MULTIHOST_DIR:?set AEVB_MULTIHOST_DIR (a scratch directory)}
HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || skip "network namespaces need root"
command -v ip >/dev/null && command -v unshare >/dev/null || skip "needs iproute2 and util-linux"

teardown() {
  ip netns del aevbh1 2>/dev/null
  ip netns del aevbh2 2>/dev/null
}
trap teardown EXIT
teardown
rm -rf "$L" && mkdir -p "$L"
ip netns add aevbh1 && ip netns add aevbh2 || skip "cannot create network namespaces here"
ip link add aevbv1 type veth peer name aevbv2 || fail "veth"
ip link set aevbv1 netns aevbh1 && ip link set aevbv2 netns aevbh2
ip -n aevbh1 addr add 10.77.0.1/24 dev aevbv1 && ip -n aevbh2 addr add 10.77.0.2/24 dev aevbv2
for n in 1 2; do ip -n aevbh$n link set lo up && ip -n aevbh$n link set aevbv$n up; done

source "$HERE/../tiny_mnist.sh"
write_tiny_mnist "$L/raw" 1000 200
"$BIN/aevb-data" convert mnist --mnist-dir "$L/raw" --out "$L/data" >/dev/null || fail "convert"
printf 'aevbh1 slots=2\naevbh2 slots=2\n' > "$L/hosts"
ARGS=(--data "$L/data" --hidden 64 --latent 8 --batch 100 --epochs 1000 --max-steps 50 --resume none --progress-every 0)

t0=$SECONDS
ip netns exec aevbh1 unshare --uts /bin/sh -c "hostname aevbh1; exec mpirun -np 4 --hostfile $L/hosts --map-by node \
    --mca plm_rsh_agent $HERE/netns_agent.sh --mca btl vader,tcp,self \
    --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    $BIN/aevb-train ${ARGS[*]} --out $L/two-hosts" > "$L/two-hosts.log" 2>&1 \
  || { tail -30 "$L/two-hosts.log"; fail "the two-host run failed"; }
two_host_s=$((SECONDS - t0))
tail -1 "$L/two-hosts.log" | grep -q '"ranks":4' || fail "not 4 ranks: $(tail -1 "$L/two-hosts.log")"
bytes=$(ip -n aevbh1 -s link show aevbv1 | awk '/TX:/{getline; print $1}')
(( bytes > 1000000 )) || fail "only $bytes bytes crossed the veth link: the ranks did not talk over TCP"

mpirun -np 4 --oversubscribe "$BIN/aevb-train" "${ARGS[@]}" --out "$L/one-host" > "$L/one-host.log" 2>&1 \
  || { tail -20 "$L/one-host.log"; fail "the one-host run failed"; }
diff=$("$BIN/tests/aevb_params_diff" "$L/one-host/model.h5" "$L/two-hosts/model.h5" 1e-5) \
  || fail "parameters differ beyond summation order: $diff"
echo "PASS: 4 ranks on 2 hosts (${two_host_s} s, $bytes bytes over TCP) match 4 ranks on 1 host: $diff"
