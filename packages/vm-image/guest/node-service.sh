#!/bin/sh
# One of the guest's Node services, run (and respawned) by busybox init: `engine` (berthd) or
# `agent` (the host's SSH bridge). See src/agent/service.ts.
service=$1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
# V8's code cache on the data disk makes every boot after the first start faster.
[ -d /var/lib/berth ] && mkdir -p /var/lib/berth/.node-cache && export NODE_COMPILE_CACHE=/var/lib/berth/.node-cache
# The VM bench's floor (packages/machine/src/bench/floors.ts): the same boot up to here, then
# only Node's own start-up, a marker with the guest uptime, and a power-off.
read -r cmdline </proc/cmdline
case " $cmdline " in *" berth.floor=node "*)
  [ "$service" = agent ] || exec sleep 2147483647
  /usr/bin/node -e 0
  echo "berth-floor: node $(cut -d' ' -f1 /proc/uptime)" >/dev/console
  sync
  umount /var/lib/berth 2>/dev/null
  exec poweroff -f
  ;;
esac

# From the service's startup snapshot when an earlier boot made one (src/agent/snapshot-build.ts);
# a snapshot start that did not get ready in this boot is not tried again.
log=/run/berth/$service.log
read -r image </etc/berth/image
blob="/var/lib/berth/.node-cache/$service-$image.blob"
if [ -e "/run/berth/$service-snapshot-tried" ] && [ ! -e "/run/berth/$service-ready" ]; then
  echo "the start from $blob did not get ready: removing it" >>"$log"
  rm -f "$blob"
fi
if [ -s "$blob" ]; then
  touch "/run/berth/$service-snapshot-tried"
  exec /usr/bin/node --snapshot-blob "$blob" "berth-$service" >>"$log" 2>&1
fi
exec /usr/bin/node "/usr/lib/berth/dist/cli/$service.mjs" >>"$log" 2>&1
