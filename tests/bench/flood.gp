# Admitted rate over time under a one-source flood: bench.sh section 6.
# gnuplot -e "datafile='...'; outfile='...'; limit=N" flood.gp
set terminal pngcairo size 900,480 font ",10" noenhanced
set output outfile
set title sprintf("sluice: one source flooding a rule of %d/s (100 ms bins)", limit)
set xlabel "time (s)"
set ylabel "packets per second"
set logscale y
set yrange [1000:*]
set xrange [0:10]
set format y "%.0s%c"
set grid ytics xtics
set key top right
plot datafile using 1:($2 > 0 ? $2 : 1/0) with steps lw 2 lc rgb "#999999" title "offered (frames the XDP program saw)", \
     datafile using 1:($3 > 0 ? $3 : 1/0) with steps lw 2 lc rgb "#d62728" title "admitted (rule passed)", \
     limit with lines dt 2 lw 2 lc rgb "#1f77b4" title sprintf("configured limit %d/s", limit)
