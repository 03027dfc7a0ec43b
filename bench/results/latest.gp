$lat << EOD
"bare rsync" 8.46 10.15
"inosync" 9.81 11.21
"lsyncd" 10.26 12.00
"clsync" 11.96 351.42
"inotifywait loop" 19.42 23.61
EOD
$fcpu << EOD
"inosync" 0.74
"lsyncd" 18.71
"clsync" 0.15
"inotifywait loop" 0.10
EOD
$fconv << EOD
"inosync" 2.57
"lsyncd" 17.31
"clsync" 120
"inotifywait loop" 1.79
EOD
$fruns << EOD
"inosync" 4
"lsyncd" 21
"clsync" 3
"inotifywait loop" 54
EOD
$ready << EOD
"inosync" 3.85 16.71
"lsyncd" 3.55 15.01
"clsync" 3.08 13.68
"inotifywait loop" 0.88 3.35
EOD
$perdir << EOD
"inosync" 61 61
"lsyncd" 221 247
"clsync" 108 107
"inotifywait loop" 258 272
EOD
$size << EOD
"inosync" 80928
"lsyncd" 3457112
"clsync" 8665592
"inotifywait loop" 2344920
EOD
$idle << EOD
"inosync" 216
"lsyncd" 2676
"clsync" 4808
"inotifywait loop" 4056
EOD
$flat << EOD
"bare rsync" 13.65 46.75
"inosync" 12.46 40.82
"lsyncd" 602.57 668.62
"clsync" 598.13 654.12
"inotifywait loop" 2074.98 1994.32
EOD
$sshlat << EOD
"inosync" 166.19 170.49
"lsyncd" 423.64 435.31
EOD
$mvlocal << EOD
"inosync" 0.00 0.00 0.09
"lsyncd" 100.02 100.03 100.36
"inotifywait loop" 100.05 100.06 117.89
EOD
$mvssh << EOD
"inosync" 0.04 0.00 0.17
"lsyncd" 0.00 0.00 24.42
EOD
$mvdaemon << EOD
"inosync" 0.04 0.00 0.17
"lsyncd" 100.02 100.03 100.62
"inotifywait loop" 100.06 100.06 106.75
EOD
$writes << EOD
"inosync" 0.0 1.00
"lsyncd" 1.0 1.65
"clsync" 2.0 1.40
"inotifywait loop" 1.0 2.00
EOD
set terminal pngcairo size 1500,2000 font ",10"
set output "/tmp/bench/bench/results/latest.png"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -20 scale 0
set multiplot layout 5,3 title "inosync vs peers, full run, 2026-12-07 04:57 UTC (same run, same trees)"
set title "latency of one new file (ms, log)"
set logscale y; set yrange [8.46 / 3.0 : 351.42 * 3.0]
plot $lat using 2:xtic(1) title 'median', '' using 3 title 'p90'
set title "flood: daemon CPU (s, log)"
set logscale y; set yrange [0.10 / 3.0 : 18.71 * 3.0]
plot $fcpu using 2:xtic(1) notitle lc 3
set title "flood: rsync runs (log)"
set logscale y; set yrange [3 / 3.0 : 54 * 3.0]
plot $fruns using 2:xtic(1) notitle lc 4
set title "flood: converged, s after the burst"
unset logscale y; set yrange [0 : 120 * 1.1]
plot $fconv using 2:xtic(1) notitle lc 5
set title "scale: ready (s)"
unset logscale y; set yrange [0 : 16.71 * 1.1]
plot $ready using 2:xtic(1) title '50000 dirs', '' using 3 title '200000 dirs'
set title "scale: RSS bytes per watched directory"
unset logscale y; set yrange [0 : 272 * 1.1]
plot $perdir using 2:xtic(1) title '50000 dirs', '' using 3 title '200000 dirs'
set title "footprint: bytes on disk, libraries included (log)"
set logscale y; set yrange [80928 / 3.0 : 8665592 * 3.0]
plot $size using 2:xtic(1) notitle lc 6
set title "footprint: idle RSS (KiB, log)"
set logscale y; set yrange [216 / 3.0 : 4808 * 3.0]
plot $idle using 2:xtic(1) notitle lc 7
set title "flat dir of 100000 files: rsync cost of one new file (ms, log)"
set logscale y; set yrange [12.46 / 3.0 : 2074.98 * 3.0]
plot $flat using 2:xtic(1) title 'CPU', '' using 3 title 'wall'
set title "ssh: latency of one new file (ms, log)"
set logscale y; set yrange [166.19 / 3.0 : 435.31 * 3.0]
plot $sshlat using 2:xtic(1) title 'median', '' using 3 title 'p90'
set title "moves to a local disk: data sent, % of what moved"
unset logscale y; set yrange [0 : 117.89 * 1.1]
plot $mvlocal using 2:xtic(1) title 'a big file', '' using 3 title 'a directory', '' using 4 title 'small files'
set title "moves over ssh: data sent, % of what moved"
unset logscale y; set yrange [0 : 24.42 * 1.1]
plot $mvssh using 2:xtic(1) title 'a big file', '' using 3 title 'a directory', '' using 4 title 'small files'
set title "moves to an rsync daemon: data sent, % of what moved"
unset logscale y; set yrange [0 : 106.75 * 1.1]
plot $mvdaemon using 2:xtic(1) title 'a big file', '' using 3 title 'a directory', '' using 4 title 'small files'
set title "writes in pieces: partial copies a reader saw; rsyncs a file"
unset logscale y; set yrange [0 : 2.0 * 1.1]
plot $writes using 2:xtic(1) title 'partial copies', '' using 3 title 'rsync runs per file'
unset multiplot
