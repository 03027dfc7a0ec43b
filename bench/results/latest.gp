$lat << EOD
"bare rsync" 7.67 9.07
"inosync" 7.58 8.44
"lsyncd" 7.53 9.41
"clsync" 8.89 379.40
"inotifywait loop" 14.92 17.17
EOD
$fcpu << EOD
"inosync" 0.30
"lsyncd" 13.03
"clsync" 0.14
"inotifywait loop" 0.17
EOD
$fconv << EOD
"inosync" 1.53
"lsyncd" 11.51
"clsync" 120
"inotifywait loop" 120
EOD
$fruns << EOD
"inosync" 2
"lsyncd" 20
"clsync" 3
"inotifywait loop" 753
EOD
$ready << EOD
"inosync" 2.37 10.70
"lsyncd" 2.48 11.61
"clsync" 2.22 10.30
"inotifywait loop" 0.69 2.99
EOD
$perdir << EOD
"inosync" 61 61
"lsyncd" 221 246
"clsync" 108 106
"inotifywait loop" 255 272
EOD
$size << EOD
"inosync" 64280
"lsyncd" 3457112
"clsync" 8665592
"inotifywait loop" 2344920
EOD
$idle << EOD
"inosync" 160
"lsyncd" 2776
"clsync" 4916
"inotifywait loop" 4112
EOD
$flat << EOD
"bare rsync" 10.40 49.34
"inosync" 11.71 50.23
"lsyncd" 736.87 787.91
"clsync" 476.95 513.83
"inotifywait loop" 2083.84 2028.38
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
set multiplot layout 3,3 title "inosync vs peers, full run, 2026-11-24 04:23 UTC (same run, same trees)"
set title "latency of one new file (ms, log)"
set logscale y; set yrange [7.53 / 3.0 : 379.40 * 3.0]
plot $lat using 2:xtic(1) title 'median', '' using 3 title 'p90'
set title "flood: daemon CPU (s, log)"
set logscale y; set yrange [0.14 / 3.0 : 13.03 * 3.0]
plot $fcpu using 2:xtic(1) notitle lc 3
set title "flood: rsync runs (log)"
set logscale y; set yrange [2 / 3.0 : 753 * 3.0]
plot $fruns using 2:xtic(1) notitle lc 4
set title "flood: converged, s after the burst"
unset logscale y; set yrange [0 : 120 * 1.1]
plot $fconv using 2:xtic(1) notitle lc 5
set title "scale: ready (s)"
unset logscale y; set yrange [0 : 11.61 * 1.1]
plot $ready using 2:xtic(1) title '50000 dirs', '' using 3 title '200000 dirs'
set title "scale: RSS bytes per watched directory"
unset logscale y; set yrange [0 : 272 * 1.1]
plot $perdir using 2:xtic(1) title '50000 dirs', '' using 3 title '200000 dirs'
set title "footprint: bytes on disk, libraries included (log)"
set logscale y; set yrange [64280 / 3.0 : 8665592 * 3.0]
plot $size using 2:xtic(1) notitle lc 6
set title "footprint: idle RSS (KiB, log)"
set logscale y; set yrange [160 / 3.0 : 4916 * 3.0]
plot $idle using 2:xtic(1) notitle lc 7
set title "flat dir of 100000 files: rsync cost of one new file (ms, log)"
set logscale y; set yrange [10.40 / 3.0 : 2083.84 * 3.0]
plot $flat using 2:xtic(1) title 'CPU', '' using 3 title 'wall'
unset multiplot
