#!/usr/bin/env bash
# A private one-node SLURM cluster on this host, for tests and for trying the SLURM profile.
#
#   tests/slurm/local_slurm.sh start STATE_DIR   # writes STATE_DIR/slurm.conf, starts munged, slurmctld, slurmd;
#                                                # returns once `sinfo` shows the node idle
#   export SLURM_CONF=STATE_DIR/slurm.conf PATH=STATE_DIR/bin:$PATH
#                                                # then sbatch/squeue/snakemake use that cluster
#   tests/slurm/local_slurm.sh status STATE_DIR  # sinfo + squeue
#   tests/slurm/local_slurm.sh stop STATE_DIR    # stops the three daemons started in STATE_DIR
#
# It installs nothing: it needs Debian's `slurm-wlm` and `munge` packages (slurmctld, slurmd, sinfo,
# munged, mungekey on PATH or in /usr/sbin). Everything it writes lives in STATE_DIR (config, munge key
# and socket, spool, state, logs, pid files), so it never touches /etc/slurm or /etc/munge and several
# clusters can run side by side (free TCP ports are picked; override with SLURMCTLD_PORT/SLURMD_PORT).
# No accounting (no slurmdbd): `sacct` cannot see jobs, so Snakemake needs `--slurm-status-command squeue`.
# No cgroups or systemd needed (proctrack/linuxproc, task/none): works as root in a plain container.
# Needs root (slurmd starts jobs as their users). Exit status: 0 on success; 2 when the packages are
# missing; 3 when not root or a daemon does not come up (the reason, then the tails of the logs, on
# stderr; what had started is stopped again).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

usage() { echo "usage: $0 start|stop|status STATE_DIR" >&2; exit 64; }
[ $# -eq 2 ] || usage
action=$1
state=$2
mkdir -p "$state"
state=$(cd "$state" && pwd)
conf=$state/slurm.conf
export SLURM_CONF=$conf

fail() {  # the reason, the logs, and nothing left running
    echo "local_slurm: $1" >&2
    log_tails
    stop >/dev/null 2>&1 || true
    exit 3
}

log_tails() {
    for f in "$state"/log/*.log; do
        [ -f "$f" ] || continue
        echo "--- tail of $f" >&2
        tail -n 25 "$f" >&2
    done
}

pid_of() {  # pid recorded in STATE_DIR/NAME.pid, if that process is alive and still NAME (not a reused pid)
    local f=$state/$1.pid
    [ -s "$f" ] || return 1
    local pid
    pid=$(cat "$f")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
    alive "$pid" || return 1
    echo "$pid"
}

alive() {  # running, not a zombie (an init that reaps slowly leaves exited daemons as zombies)
    local st
    st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local tool
    for tool in munged mungekey slurmctld slurmd sinfo sbatch squeue scontrol; do
        command -v "$tool" >/dev/null 2>&1 || {
            echo "local_slurm: '$tool' not found; install the Debian packages: apt-get install -y slurm-wlm munge" >&2
            exit 2
        }
    done
    if [ "$(id -u)" != 0 ]; then
        echo "local_slurm: needs root (slurmd starts jobs as their users); run it as root" >&2
        exit 3
    fi
    if pid_of slurmctld >/dev/null || pid_of slurmd >/dev/null; then
        echo "local_slurm: a cluster is already running in $state; stop it first: $0 stop $state" >&2
        exit 3
    fi
    mkdir -p "$state"/{munge,ctld,spool,log,tmp}
    chmod 755 "$state" "$state/munge"  # job users must reach the munge socket; the key itself is 0600

    # munge: a private key and socket (munged refuses keys readable by others)
    rm -f "$state/munge/munge.key"
    mungekey --create --keyfile="$state/munge/munge.key"
    chmod 600 "$state/munge/munge.key"
    local sock=$state/munge/munge.socket
    if ! munged --force --key-file="$state/munge/munge.key" --socket="$sock" \
            --pid-file="$state/munged.pid" --log-file="$state/log/munged.log" \
            --seed-file="$state/munge/munged.seed" 2>>"$state/log/munged.log"; then
        fail "munged did not start"
    fi

    # slurm.conf for this host: its real CPU layout and memory (slurmd -C), loopback addresses
    local host node_line ctld_port slurmd_port
    host=$(hostname -s)
    node_line=$(slurmd -C | head -n 1 | sed -E "s/^NodeName=[^ ]+/NodeName=$host/")
    case $node_line in NodeName=*CPUs=*RealMemory=*) ;; *)
        fail "cannot read this node's resources from 'slurmd -C': $node_line";;
    esac
    ctld_port=${SLURMCTLD_PORT:-$(free_port)}
    slurmd_port=${SLURMD_PORT:-$(free_port)}
    [ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$(free_port)
    : >"$state/plugstack.conf"
    cat >"$conf" <<EOF
# Written by tests/slurm/local_slurm.sh: a one-node cluster without accounting.
ClusterName=nnspectra-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
TmpFS=$state/tmp
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$state/plugstack.conf
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue for 5 min (the Snakemake plugin needs >= 3x its status interval)
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

    # Client wrappers that carry SLURM_CONF. The Snakemake SLURM jobstep plugin (2.8) removes every SLURM_*
    # variable, SLURM_CONF included, before its nested `srun` inside a job; a site cluster keeps its config
    # in /etc/slurm or runs configless (/run/slurm/conf), this private one has neither, so PATH (which
    # jobs inherit) points at these wrappers.
    mkdir -p "$state/bin"
    local real
    for tool in srun sbatch squeue sinfo scancel scontrol sacct sacctmgr sshare; do
        real=$(command -v "$tool") || continue
        printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$conf" "$real" >"$state/bin/$tool"
        chmod 755 "$state/bin/$tool"
    done

    if ! slurmctld -c -f "$conf" 2>>"$state/log/slurmctld.log"; then
        fail "slurmctld did not start"
    fi
    if ! slurmd -f "$conf" -N "$host" 2>>"$state/log/slurmd.log"; then
        fail "slurmd did not start"
    fi

    local i node_state=""
    for i in $(seq 1 60); do
        node_state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
        [ "$node_state" = idle ] && break
        if ! pid_of slurmctld >/dev/null || ! pid_of slurmd >/dev/null; then
            [ "$i" -gt 3 ] && break  # daemonised processes write their pid files within a second or two
        fi
        sleep 1
    done
    if [ "$node_state" != idle ]; then
        fail "the node did not become idle within 60 s (sinfo state: '${node_state:-none}')"
    fi
    echo "local_slurm: node $host idle (CPUs and memory from slurmd -C); use it with:"
    echo "export SLURM_CONF=$conf PATH=$state/bin:\$PATH"
}

stop() {
    local name pid i
    if pid_of slurmctld >/dev/null; then  # cancel what is left in this private cluster's only partition
        for i in $(seq 1 20); do
            [ -n "$(squeue -h --partition=debug --states=PENDING,RUNNING,COMPLETING 2>/dev/null)" ] || break
            [ "$i" = 1 ] && scancel --partition=debug >/dev/null 2>&1 || true
            sleep 0.5
        done
    fi
    for name in slurmd slurmctld munged; do
        pid=$(pid_of "$name") || continue
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 30); do
            alive "$pid" || break
            sleep 0.5
        done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
    echo "local_slurm: stopped the cluster in $state"
}

status() {
    sinfo
    squeue --states=all
}

case $action in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) usage ;;
esac
