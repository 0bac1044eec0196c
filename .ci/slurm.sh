#!/usr/bin/env bash
# A real, single-node SLURM scheduler on this machine, for tests/cluster (issue 17).
#
#   .ci/slurm.sh install   apt-get install slurm-wlm + munge (Debian 12: SLURM 22.05), as root
#   .ci/slurm.sh start     write /etc/slurm/{slurm,gres}.conf, start munged, slurmctld, slurmd in the
#                          background (no systemd) and wait until the node is idle; idempotent
#   .ci/slurm.sh stop      stop the three daemons (by their pid files)
#   .ci/slurm.sh status    exit 0 when the controller answers and the node takes jobs
#   .ci/slurm.sh up        install (if sinfo is missing) + start: what CI calls
#
# One node named after this host (CPUs and memory from `slurmd -C`), two partitions, `cpu`
# (default) and `gpu`, and a GPU GRES backed by placeholder device files, so `sbatch --gpus=1`
# is schedulable on a machine without a GPU (the job sees CUDA_VISIBLE_DEVICES=0; CUDA itself is
# of course absent). No accounting database (slurmdbd): Snakemake's SLURM plugin queries job
# status with `squeue` (`slurm-status-command: squeue`), which needs MinJobAge above three times
# its first status-check delay; MinJobAge is 600 s here.
#
# Environment: SLURM_CI_GPUS (placeholder GPUs, default 2), SLURM_CI_CPUS / SLURM_CI_MEM_MB
# (override what the node declares; more CPUs than the machine has oversubscribes it).
set -euo pipefail

ETC=/etc/slurm
STATE=/var/spool/slurm-ci
LOGS=/var/log/slurm-ci
RUN=/run/slurm-ci
FAKE_GPU_DIR=$RUN/fake-gpu
GPUS=${SLURM_CI_GPUS:-2}

log() { echo "slurm.sh: $*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        log "must run as root (it installs packages and starts daemons)"
        exit 1
    fi
}

install() {
    need_root
    if command -v sinfo >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null; then
        log "slurm-wlm and munge already installed: $(dpkg-query -W -f '${Version}' slurm-wlm 2>/dev/null)"
        return 0
    fi
    local t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm slurmctld slurmd slurm-client munge >/dev/null
    log "installed slurm-wlm $(dpkg-query -W -f '${Version}' slurm-wlm) and munge in $((SECONDS - t0)) s"
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_ready() {
    # The controller answers and the node is idle, mixed or allocated (not down/drained/unknown).
    timeout 10 scontrol ping 2>/dev/null | grep -q "is UP" || return 1
    local state
    state=$(timeout 10 sinfo -h -N -n "$(hostname -s)" -o %t 2>/dev/null | head -1)
    case "$state" in idle | mix | alloc | comp) return 0 ;; *) return 1 ;; esac
}

write_config() {
    local host cpus mem line topology
    host=$(hostname -s)
    line=$(slurmd -C | head -1)  # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 ... RealMemory=24105
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$line")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
    mem=$((mem * 9 / 10))  # leave the OS some memory
    # the machine's own topology, unless the CPU count is overridden (config_overrides allows it)
    topology=$(grep -o 'Boards=.* ThreadsPerCore=[0-9]*' <<<"$line" || true)
    if [ -n "${SLURM_CI_CPUS:-}" ]; then cpus=$SLURM_CI_CPUS topology=""; fi
    mem=${SLURM_CI_MEM_MB:-$mem}

    mkdir -p "$ETC" "$STATE/ctld" "$STATE/d" "$LOGS" "$RUN" "$FAKE_GPU_DIR"
    local files=()
    for ((i = 0; i < GPUS; i++)); do
        # A character device (the numbers of /dev/null): slurmd only stats it; no GPU needed.
        [ -e "$FAKE_GPU_DIR/nvidia$i" ] || mknod "$FAKE_GPU_DIR/nvidia$i" c 1 3
        files+=("$FAKE_GPU_DIR/nvidia$i")
    done
    local gres_line="" gres_types="GresTypes=gpu"
    if [ "$GPUS" -gt 0 ]; then gres_line="Gres=gpu:$GPUS"; fi

    cat >"$ETC/slurm.conf" <<EOF
# Written by .ci/slurm.sh: single-node test scheduler, not for production.
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
# no cgroups needed: processes tracked by /proc, CPUs pinned with sched_setaffinity
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
$gres_types
# squeue answers for finished jobs this long (Snakemake's plugin uses squeue for status).
MinJobAge=600
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
KillWait=5
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus $topology RealMemory=$mem $gres_line State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF
    {
        echo "# Written by .ci/slurm.sh: placeholder GPUs (character devices, no hardware)."
        for ((i = 0; i < GPUS; i++)); do echo "NodeName=$host Name=gpu File=${files[$i]}"; done
    } >"$ETC/gres.conf"
    # No cgroup.conf: slurmd 22.05 always loads a cgroup plugin (v1 or v2, autodetected) even with
    # proctrack/linuxproc and task/none, and it has no "CgroupPlugin=disabled" (that came in 23.x).
}

start() {
    need_root
    command -v slurmctld >/dev/null || { log "slurm-wlm is not installed (run: $0 install)"; exit 1; }
    if node_ready; then
        log "already running"
        return 0
    fi
    local t0=$SECONDS
    if ! pid_alive "$RUN/slurmctld.pid" && ! pid_alive "$RUN/slurmd.pid"; then
        write_config
    fi
    # munge: the key comes with the package; munged runs as the munge user.
    if ! pid_alive /run/munge/munged.pid; then
        mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
        [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
            || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; }
        chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
        runuser -u munge -- /usr/sbin/munged
    fi
    pid_alive "$RUN/slurmctld.pid" || slurmctld || { log "slurmctld failed:"; tail -n 20 "$LOGS/slurmctld.log" >&2; exit 1; }
    pid_alive "$RUN/slurmd.pid" || slurmd || { log "slurmd failed:"; tail -n 20 "$LOGS/slurmd.log" >&2; exit 1; }
    for _ in $(seq 60); do
        if node_ready; then
            log "up in $((SECONDS - t0)) s: $(sinfo -h -N -o '%N %t cpus=%c mem=%m gres=%G' | head -1)"
            return 0
        fi
        # a node left down by an earlier run comes back
        scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    log "the node did not become ready; last lines of the logs:"
    tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
    sinfo -N -l >&2 || true
    exit 1
}

stop_pidfile() {
    local f=$1 name=$2
    if pid_alive "$f"; then
        local pid
        pid=$(cat "$f")
        kill "$pid"
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped $name ($pid)"
    fi
}

stop() {
    need_root
    stop_pidfile "$RUN/slurmd.pid" slurmd
    stop_pidfile "$RUN/slurmctld.pid" slurmctld
    stop_pidfile /run/munge/munged.pid munged
}

status() {
    if ! command -v sinfo >/dev/null; then
        echo "not installed"
        return 1
    fi
    if node_ready; then
        sinfo -N -o '%N %P %t cpus=%c mem=%m gres=%G'
        return 0
    fi
    echo "not running"
    return 1
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
status) status ;;
restart) stop; start ;;
up) install; start ;;
*)
    echo "usage: $0 install|start|stop|status|restart|up" >&2
    exit 2
    ;;
esac
