#!/bin/sh
# The guest agent: reads the host's config, runs berthd in its own process, mounts shares,
# serves ssh.
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

# One Node process: the agent runs berthd inside itself (src/agent/main.ts). busybox init
# respawns this script, and so both, when the process ends.
# From the agent's startup snapshot when an earlier boot made one (src/agent/snapshot-build.ts);
# a snapshot start that did not reach ready in this boot is not tried again.
blob="/var/lib/berth/.node-cache/agent-$(cat /etc/berth/image 2>/dev/null).blob"
if [ -e /run/berth/snapshot-tried ] && [ ! -e /run/berth/agent-ready ]; then
  echo "the start from $blob did not get ready: removing it" >>/run/berth/agent.log
  rm -f "$blob"
fi
if [ -s "$blob" ]; then
  touch /run/berth/snapshot-tried
  exec /usr/bin/node --snapshot-blob "$blob" berth-agent >>/run/berth/agent.log 2>&1
fi
exec /usr/bin/node /usr/lib/berth/dist/cli/agent.mjs >>/run/berth/agent.log 2>&1
