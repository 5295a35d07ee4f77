#!/bin/sh
# busybox init's shutdown action: stop berthd (which stops its containers) and the agent, then
# release the disk.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "berth-stage: stopping" >/dev/console
pids=""
for f in /run/berth/engine.pid /run/berth/agent.pid; do
  pid=$(cat "$f" 2>/dev/null)
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
done
i=0
for pid in $pids; do
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do usleep 100000; i=$((i + 1)); done
done
sync
umount /var/lib/berth 2>/dev/null || mount -o remount,ro /var/lib/berth 2>/dev/null
echo "berth-stage: stopped" >/dev/console
