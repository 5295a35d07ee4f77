#!/bin/sh
# The guest agent: reads the host's config, mounts shares, supervises berthd, serves ssh.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
# V8's code cache on the data disk makes every boot after the first start faster.
[ -d /var/lib/berth ] && mkdir -p /var/lib/berth/.node-cache && export NODE_COMPILE_CACHE=/var/lib/berth/.node-cache
# The VM bench's floor (packages/machine/src/bench/floors.ts): the same boot up to here, then
# only Node's own start-up, a marker with the guest uptime, and a power-off.
case " $(cat /proc/cmdline) " in *" berth.floor=node "*)
  /usr/bin/node -e 0
  echo "berth-floor: node $(cut -d' ' -f1 /proc/uptime)" >/dev/console
  sync
  umount /var/lib/berth 2>/dev/null
  exec poweroff -f
  ;;
esac

# berthd starts here, beside the agent's Node rather than after it: two Node start-ups in a row
# are most of the boot under emulation. Its arguments come from the fw_cfg config (compact JSON
# written by the host); the agent adopts this berthd when it computes the same arguments
# (berthd.args) and replaces it otherwise. Once per boot: busybox init may respawn this script.
config=/sys/firmware/qemu_fw_cfg/by_name/opt/berth/config/raw
if [ -r "$config" ] && [ ! -e /run/berth/berthd.pid ]; then
  json=$(cat "$config")
  gateway=$(printf '%s' "$json" | sed -n 's/.*"hostAddress":"\([^"]*\)".*/\1/p')
  registries=$(printf '%s' "$json" | sed -n 's/.*"insecureRegistries":\[\([^]]*\)\].*/\1/p' | tr -d '"' | tr ',' ' ')
  set -- /usr/lib/berth/dist/cli/berthd.mjs -H unix:///run/berth/berth.sock --data-root /var/lib/berth \
    --host-gateway-ip "${gateway:-10.0.2.2}"
  for r in $registries; do set -- "$@" --insecure-registry "$r"; done
  printf '%s\n' "$@" >/run/berth/berthd.args
  # The inner subshell is orphaned at once, so init (not the agent) reaps it. berthd needs the
  # engine modules rcS loads in the background (bounded wait: 120 s).
  (
    (
      i=0
      while [ ! -e /run/berth/modules-loaded ] && [ $i -lt 2400 ]; do usleep 50000; i=$((i + 1)); done
      exec /usr/bin/node "$@" >>/run/berth/berthd.out 2>&1 </dev/null
    ) &
    echo $! >/run/berth/berthd.pid
  )
fi
exec /usr/bin/node /usr/lib/berth/agent/agent.mjs >>/run/berth/agent.log 2>&1
