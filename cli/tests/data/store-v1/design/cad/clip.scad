difference() {
  cube([30, 8, 12]);
  translate([4, -1, 3]) cube([22, 10, 6]);
}
