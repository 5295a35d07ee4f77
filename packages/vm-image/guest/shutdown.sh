#!/bin/sh
# busybox init's shutdown action: stop the agent (which stops berthd), then release the disk.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "berth-stage: stopping" >/dev/console
pid=$(cat /run/berth/agent.pid 2>/dev/null)
if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do usleep 100000; i=$((i + 1)); done
fi
sync
umount /var/lib/berth 2>/dev/null || mount -o remount,ro /var/lib/berth 2>/dev/null
echo "berth-stage: stopped" >/dev/console
