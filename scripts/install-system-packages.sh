#!/usr/bin/env bash
# Installs the Debian packages anfang needs (CJK fonts, HarfBuzz subsetting for WeasyPrint,
# PDF tools for the document checks) when they are missing. Where apt-get cannot run, it says
# what to install and carries on: the Python parts still install.
set -u
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "缺少系统软件包：${missing[*]}；当前用户无法运行 apt-get，请管理员执行：apt-get install ${missing[*]}" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "缺少系统软件包：${missing[*]}；本机没有 apt-get，请用系统的包管理器安装。" >&2
  exit 0
fi
echo "安装系统软件包：${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { "${run[@]}" apt-get update -qq && "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/anfang-apt.log 2>&1; then
  echo "apt-get 安装 ${missing[*]} 失败（详见 /tmp/anfang-apt.log）；请手动安装后重试。" >&2
  exit 0
fi
