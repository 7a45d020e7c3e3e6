#!/bin/bash
# The window's speed under Xvfb at 1280x720, as README's "The window" table measured it.
#
#   benches/window_measure.sh BIN MODELS LATENT_DIM SECS OUT [--drag] [--threads N]
#
# Writes the window's settings (MODELS, e.g. ae,vae,beta-vae; LATENT_DIM) into a fresh
# HOME's eframe storage, opens BIN under `nice -n -20` on display :7 with
# LATENTLAB_WORKER_STATS=1 and LATENTLAB_FRAME_STATS=10, and after SECS seconds takes a
# screenshot (OUT.png) and closes it. With --drag it drags the probe of the second model's
# latent plot in circles (xdotool, from 12 s on; the plot's place is the one at 1280x720
# with three models). Prints the step reached 30 s after launch, the worker's steps per
# second outside epoch ends, its step and snapshot times, and the frame statistics.
# Needs xvfb-run, xdotool, xwd, convert (imagemagick) and python3.
set -u
BIN=$1; MODELS=$2; LATENT=$3; SECS=$4; OUT=$5; shift 5
DRAG=0; THREADS=""
while [ $# -gt 0 ]; do
  case $1 in
    --drag) DRAG=1 ;;
    --threads) THREADS="--threads $2"; shift ;;
  esac
  shift
done
H=$(mktemp -d)
mkdir -p "$H/data/latentlab"
python3 - "$H/data/latentlab/app.ron" "$MODELS" "$LATENT" <<'PY'
import sys
path, models, latent = sys.argv[1], sys.argv[2].split(','), int(sys.argv[3])
inner = ('(run:(dataset:"digits",models:[%s],latent_dim:%d,hidden:[128,64],arch:mlp,knobs:{},'
         'lr:0.003,batch_size:64,seed:1,epochs:None,kl_warmup_epochs:0.0,iw_samples:0,'
         'eval_every_secs:None),grid_k:15)') % (','.join('"%s"' % m for m in models), latent)
open(path, 'w').write('{\n    "latentlab-settings": "%s",\n}\n' % inner.replace('"', '\\"'))
PY
if [ $DRAG = 1 ]; then
  python3 - "$H/drag.xdo" <<'PY'
import math, sys
cmds = ["mousemove 760 300", "mousedown 1"]
for i in range(600):
    cmds += ["mousemove %d %d" % (775 + int(45 * math.cos(i / 20)), 300 + int(45 * math.sin(i / 13))),
             "sleep 0.016"]
open(sys.argv[1], "w").write("\n".join(cmds + ["mouseup 1"]) + "\n")
PY
fi
export HOME=$H XDG_DATA_HOME=$H/data WINIT_X11_SCALE_FACTOR=1
export LATENTLAB_FRAME_STATS=10 LATENTLAB_WORKER_STATS=1
xvfb-run -n 7 -s "-screen 0 1280x720x24" bash -c "
  date +%s.%N > $OUT.start
  nice -n -20 $BIN $THREADS 2> $OUT.err & p=\$!
  if [ $DRAG = 1 ]; then sleep 12; (xdotool $H/drag.xdo &); sleep $((SECS - 12)); else sleep $SECS; fi
  xwd -root -silent | convert xwd:- $OUT.png
  kill \$p; wait \$p
"
rm -rf "$H"
python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
t0 = float(open(out + '.start').read())
pat = (r'worker stats at unix ([\d.]+) over ([\d.]+) s: step (\d+), [\d.]+ steps/s; '
       r'Step [\d.]+% \((\d+) × ([\d.]+) ms\); Snapshot [\d.]+% \((\d+) × ([\d.]+) ms\); '
       r'EpochEnd [\d.]+% \((\d+) × ([\d.]+) ms\)')
rows, frames = [], []
for line in open(out + '.err'):
    m = re.match(pat, line)
    if m:
        g = m.groups()
        rows.append(dict(t=float(g[0]) - t0, wall=float(g[1]), step=int(g[2]), n=int(g[3]),
                         step_ms=float(g[4]), snaps=int(g[5]), snap_ms=float(g[6]),
                         epoch_s=int(g[7]) * float(g[8]) / 1000))
    elif line.startswith('frame stats'):
        frames.append(line.strip())
if not rows:
    sys.exit(out + ': no worker stats (did the window start?)')
first = rows[0]['t'] - rows[0]['wall']
at30 = next((a['step'] + (b['step'] - a['step']) * (30 - a['t']) / (b['t'] - a['t'])
             for a, b in zip(rows, rows[1:]) if a['t'] <= 30 <= b['t']), None)
steady = [r for r in rows if r['t'] > first + 3]
wall = sum(r['wall'] for r in steady)
epoch = sum(r['epoch_s'] for r in steady)
n = sum(r['n'] for r in steady)
snaps = sum(r['snaps'] for r in steady)
snap_s = sum(r['snaps'] * r['snap_ms'] for r in steady) / 1000
step_s = sum(r['n'] * r['step_ms'] for r in steady) / 1000
print(f"{out}: training from {first:.1f} s; step at 30 s: {at30 and round(at30)}; "
      f"steps/s outside epoch ends {n / (wall - epoch):.1f}; step {1000 * step_s / n:.2f} ms; "
      f"snapshots {snaps} x {1000 * snap_s / max(snaps, 1):.1f} ms = "
      f"{100 * snap_s / (wall - epoch):.1f}% of the time")
for f in frames:
    print('   ', f)
PY
