$lat << EOD
EOD
$fcpu << EOD
EOD
$fconv << EOD
EOD
$fruns << EOD
EOD
$ready << EOD
"inosync (fanotify)" 11.81 98.84
"inosync (inotify)" 13.31 119.09
"lsyncd" 13.35 152.18
"clsync" 12.21 NaN
"inotifywait loop" 3.93 44.96
EOD
$perdir << EOD
"inosync (fanotify)" 69 68
"inosync (inotify)" 61 60
"lsyncd" 244 199
"clsync" 106 NaN
"inotifywait loop" 272 302
EOD
$kmem << EOD
"inosync (fanotify)" -2 -1
"inosync (inotify)" 1281 1314
"lsyncd" 1276 1311
"clsync" 1278 NaN
"inotifywait loop" 1276 1321
EOD
$size << EOD
"inosync" 81320
"lsyncd" 3457112
"clsync" 8665592
"inotifywait loop" 2344920
EOD
$idle << EOD
"inosync" 224
"lsyncd" 2776
"clsync" 4868
"inotifywait loop" 3964
EOD
$flat << EOD
EOD
$sshlat << EOD
EOD
$mvlocal << EOD
EOD
$mvssh << EOD
EOD
$mvdaemon << EOD
EOD
$writes << EOD
EOD
set terminal pngcairo size 1500,2000 font ",10"
set output "bench/results/latest.png"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -20 scale 0
set multiplot layout 5,3 title "inosync vs peers, full run, 2026-12-07 15:46 UTC (same run, same trees)"
set title "latency of one new file (ms, log)"
set multiplot next
set title "flood: daemon CPU (s, log)"
set multiplot next
set title "flood: rsync runs (log)"
set multiplot next
set title "flood: converged, s after the burst"
set multiplot next
set title "scale: ready (s)"
unset logscale y; set yrange [0 : 152.18 * 1.1]
plot $ready using 2:xtic(1) title '200000 dirs', '' using 3 title '1000000 dirs'
set title "scale: RSS bytes per watched directory"
unset logscale y; set yrange [0 : 302 * 1.1]
plot $perdir using 2:xtic(1) title '200000 dirs', '' using 3 title '1000000 dirs'
set title "scale: kernel memory (slab) bytes per watched directory"
unset logscale y; set yrange [0 : 1321 * 1.1]
plot $kmem using 2:xtic(1) title '200000 dirs', '' using 3 title '1000000 dirs'
set title "footprint: bytes on disk, libraries included (log)"
set logscale y; set yrange [81320 / 3.0 : 8665592 * 3.0]
plot $size using 2:xtic(1) notitle lc 6
set title "footprint: idle RSS (KiB, log)"
set logscale y; set yrange [224 / 3.0 : 4868 * 3.0]
plot $idle using 2:xtic(1) notitle lc 7
set title "flat dir of 100000 files: rsync cost of one new file (ms, log)"
set multiplot next
set title "ssh: latency of one new file (ms, log)"
set multiplot next
set title "moves to a local disk: data sent, % of what moved"
set multiplot next
set title "moves over ssh: data sent, % of what moved"
set multiplot next
set title "moves to an rsync daemon: data sent, % of what moved"
set multiplot next
set title "writes in pieces: partial copies a reader saw; rsyncs a file"
set multiplot next
unset multiplot
