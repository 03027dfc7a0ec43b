$lat << EOD
"bare rsync" 9.66 22.99
"inosync" 10.56 14.23
"lsyncd" 14.52 18.61
"clsync" 20.83 376.89
"inotifywait loop" 15.38 23.38
EOD
$fcpu << EOD
"inosync" 0.01
"lsyncd" 3.69
"clsync" 0.03
"inotifywait loop" 0.03
EOD
$fconv << EOD
"inosync" 1.12
"lsyncd" 3.72
"clsync" 3.50
"inotifywait loop" 0.77
EOD
$fruns << EOD
"inosync" 1
"lsyncd" 6
"clsync" 2
"inotifywait loop" 180
EOD
$ready << EOD
"inosync" 0.37 1.06
"lsyncd" 0.39 1.18
"clsync" 0.37 1.21
"inotifywait loop" 0.09 0.33
EOD
$perdir << EOD
"inosync" 90 89
"lsyncd" 266 257
"clsync" 153 127
"inotifywait loop" 238 261
EOD
$size << EOD
"inosync" 60472
"lsyncd" 3457112
"clsync" 8665592
"inotifywait loop" 2344920
EOD
$idle << EOD
"inosync" 156
"lsyncd" 2760
"clsync" 4768
"inotifywait loop" 4136
EOD
$flat << EOD
"bare rsync" 9.70 47.86
"inosync" 302.04 355.17
"lsyncd" 83.22 116.36
"clsync" 88.56 134.06
"inotifywait loop" 216.69 279.57
EOD
set terminal pngcairo size 1500,1200 font ",10"
set output "/work/main/bench/results/latest.png"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -20 scale 0
set multiplot layout 3,3 title "inosync vs peers, quick run, 2026-11-24 02:37 UTC (same run, same trees)"
set yrange [0:*]
set title "latency of one new file (ms, lower is better)"
plot $lat using 2:xtic(1) title 'median', '' using 3 title 'p90'
set logscale y; set yrange [*:*]
set title "flood: daemon CPU (s, log)"
plot $fcpu using 2:xtic(1) notitle lc 3
set title "flood: rsync runs (log)"
plot $fruns using 2:xtic(1) notitle lc 4
unset logscale y; set yrange [0:*]
set title "flood: converged, s after the burst"
plot $fconv using 2:xtic(1) notitle lc 5
set title "scale: ready (s)"
plot $ready using 2:xtic(1) title '5000 dirs', '' using 3 title '20000 dirs'
set title "scale: RSS bytes per watched directory"
plot $perdir using 2:xtic(1) title '5000 dirs', '' using 3 title '20000 dirs'
set logscale y; set yrange [*:*]
set title "footprint: bytes on disk, libraries included (log)"
plot $size using 2:xtic(1) notitle lc 6
set title "footprint: idle RSS (KiB, log)"
plot $idle using 2:xtic(1) notitle lc 7
set title "flat dir of 10000 files: rsync cost of one new file (ms, log)"
plot $flat using 2:xtic(1) title 'CPU', '' using 3 title 'wall'
unset multiplot
