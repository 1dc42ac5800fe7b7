#!/usr/bin/env bash
# Runs every test: installs what the tests need (redis-server, which the integration tests start themselves on a
# free port with a throwaway directory), then `dotnet test` on the solution. Extra arguments go to dotnet test.
set -uo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "test.sh: installing redis-server (needed by the integration tests)"
  if [ "$(id -u)" -eq 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; } >/tmp/streamtriggers-apt.log 2>&1 \
      || { echo "test.sh: apt-get failed (see /tmp/streamtriggers-apt.log); integration tests will fail, not skip"; tail -n 5 /tmp/streamtriggers-apt.log; }
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
  else
    echo "test.sh: redis-server is missing and cannot be installed without root; integration tests will fail, not skip"
  fi
fi

# The quiet-hours tests use real IANA zones (Europe/Paris, America/New_York): .NET reads them from tzdata.
if [ ! -e /usr/share/zoneinfo/Europe/Paris ] && [ "$(id -u)" -eq 0 ]; then
  echo "test.sh: installing tzdata (the time zone database the quiet-hours tests need)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tzdata; } >>/tmp/streamtriggers-apt.log 2>&1 \
    || echo "test.sh: apt-get tzdata failed (see /tmp/streamtriggers-apt.log); quiet-hours tests will fail, not skip"
fi

exec dotnet test StreamTriggers.sln "$@"
