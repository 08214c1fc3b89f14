// Face-shield headband -- parametric OpenSCAD source
//
// A one-piece headband for a fablab face shield: a flexible band that
// clamps around the forehead, a visor rail held 15 mm in front of it
// (room for glasses) by radial ribs, four pins that carry a clear A4
// sheet punched with an ordinary office 2-hole punch (ISO 838: holes
// 80 mm apart, 12 mm from the edge), and a slot at each end for an
// elastic strap.
//
// The part prints flat, with no supports: the band is a vertical wall
// of height `band_height`, and the pins have a teardrop profile (45 degree
// flanks, clipped to a 2 mm flat) so that they print in the air.
//
// Render:   openscad -o headband.stl cad/headband.scad
// Top view: openscad -o top.svg -D 'mode="top_view"' cad/headband.scad
//
// All dimensions are in millimetres, all angles in degrees.
// Licensed CERN-OHL-S-2.0 (see README.md).

/* [What to render] */

// "headband": the printable part; "top_view": a 2D outline (for SVG/DXF)
mode = "headband"; // [headband, top_view]

/* [Head] */

// Head circumference, measured just above the eyebrows. 540 = small
// adult, 570 = medium, 600 = large.
head_circumference = 570;

// Head length (front to back) divided by head breadth (side to side).
// 1.25 suits most adults.
head_aspect = 1.25;

// How far the band wraps around the head, from the forehead centre to
// each end. A little more than 90 makes the band clamp at the temples.
band_sweep = 100;

/* [Band] */

// Height of the band, which is also the height of the whole print (Z).
band_height = 20;

// Radial thickness of the band. Thinner is more flexible; 2.5 mm PETG
// flexes enough for heads from about 540 to 600 mm.
band_thickness = 2.5;

/* [Visor rail] */

// Free space between band and visor rail (glasses, ventilation).
visor_standoff = 15;

// Radial thickness of the rail the visor rests on.
rail_thickness = 2;

// Thickness of the ribs joining band and rail.
rib_thickness = 2;

// Rail length past the outermost pin, measured along the rail.
rail_margin = 12;

/* [Visor pins] */

// Pin positions along the front face of the rail, as arc length from
// the centre line; each value gives a pin on the left and one on the
// right. 40 and 120 are reachable with an office 2-hole punch (80 mm
// pitch): punch once centred, then once shifted 80 mm to each side.
// visor/visor-template.svg has its holes at +-40 and +-120 mm.
pin_positions = [40, 120];

// Distance from the top edge of the visor (flush with the top of the
// print) to the pin axes: 12 mm for ISO 838 punches.
pin_from_top = 12;

// Pin diameter. Office punches cut 5.5 to 6 mm holes.
pin_diameter = 5;

// How far pins stand out of the rail (visor sheets are 0.2-0.5 mm thick).
pin_length = 4;

/* [Strap] */

// Width of the elastic strap (it runs vertically through the slot).
strap_width = 15;

// Thickness of the strap.
strap_thickness = 2;

// Thickness and length of the tab that carries the strap slot.
tab_thickness = 4;
tab_length = 12;

/* [Resolution] */

// Angular step used to sample the ellipses: smaller is smoother.
step = 2;

$fn = 32;

// ---------------------------------------------------------------------
// Geometry helpers
// ---------------------------------------------------------------------

// Ramanujan's approximation of an ellipse perimeter, solved for the
// semi-breadth `a` given the perimeter and the ratio b/a.
function semi_breadth(perimeter, k) =
    perimeter / (PI * (3 * (1 + k) - sqrt((3 + k) * (1 + 3 * k))));

head_a = semi_breadth(head_circumference, head_aspect); // side to side / 2
head_b = head_a * head_aspect;                         // front to back / 2

// Point of the head ellipse at angle t (t = 0 is the forehead centre,
// on +Y; positive t turns towards +X).
function ell(t) = [head_a * sin(t), head_b * cos(t)];

// Outward unit normal of the head ellipse at angle t.
function nrm(t) =
    let (v = [head_b * sin(t), head_a * cos(t)]) v / norm(v);

// Outward unit tangent (towards growing t).
function tng(t) = let (n = nrm(t)) [n[1], -n[0]];

// Point at distance d outside the head ellipse along its normal at t.
// Curves of constant d are parallel (offset) curves, so every radial
// rib is square to band and rail alike.
function off(t, d) = ell(t) + d * nrm(t);

// Offsets of each surface from the head.
band_out  = band_thickness;
rail_in   = band_thickness + visor_standoff;
rail_out  = rail_in + rail_thickness;

// Arc length along the front of the rail, sampled every `step` degrees
// from t = 0: lengths[i] is the length from t = 0 to t = i * step.
n_samples = ceil(180 / step);
lengths = [
    for (i = 0, s = 0; i <= n_samples;
         s = s + norm(off((i + 1) * step, rail_out) - off(i * step, rail_out)),
         i = i + 1)
        s
];

// Angle t at which the arc length along the rail front reaches s
// (linear interpolation between samples).
function angle_at(s, i = 0) =
    i >= n_samples ? n_samples * step
    : lengths[i + 1] >= s
        ? step * (i + (s - lengths[i]) / (lengths[i + 1] - lengths[i]))
        : angle_at(s, i + 1);

pin_angles = [for (s = pin_positions) angle_at(s)];
rail_sweep = angle_at(max(pin_positions) + rail_margin);
rail_end_rib = angle_at(max(pin_positions) + rail_margin - rib_thickness / 2);

assert(rail_sweep < band_sweep,
       "the outer pins are too far out: reduce pin_positions or visor_standoff");
assert(strap_width + 1 + 4 <= band_height,
       "the strap slot needs band_height >= strap_width + 5");
assert(pin_from_top + pin_diameter / 2 < band_height,
       "pins must lie within the band height");

echo(str("head ellipse: ", 2 * head_a, " x ", 2 * head_b, " mm"));
echo(str("rail ends at +-", rail_sweep, " deg; pins at +-", pin_angles, " deg"));
echo(str("visor holes (from the sheet centre): +-", pin_positions, " mm, ",
         pin_from_top, " mm below the top edge"));

// ---------------------------------------------------------------------
// 2D outlines
// ---------------------------------------------------------------------

// The strip between offsets d0 and d1, from angle -t to +t.
module strip(t, d0, d1) {
    n = ceil(2 * t / step);
    polygon(concat(
        [for (i = [0 : n]) off(-t + 2 * t * i / n, d0)],
        [for (i = [n : -1 : 0]) off(-t + 2 * t * i / n, d1)]
    ));
}

// A radial rib at angle t, from the band into the rail.
module rib(t) {
    h = rib_thickness / 2 * tng(t);
    d0 = band_out - 0.5;
    d1 = rail_in + 0.5;
    polygon([off(t, d0) - h, off(t, d1) - h, off(t, d1) + h, off(t, d0) + h]);
}

module outline() {
    // the band, with rounded ends
    strip(band_sweep, 0, band_out);
    for (s = [-1, 1])
        translate(off(s * band_sweep, band_out / 2)) circle(d = band_thickness);
    // the visor rail, with rounded ends
    strip(rail_sweep, rail_in, rail_out);
    for (s = [-1, 1])
        translate(off(s * rail_sweep, (rail_in + rail_out) / 2))
            circle(d = rail_thickness);
    // ribs: centre, between the pins, and at the rail ends
    rib(0);
    for (s = [-1, 1]) {
        rib(s * (pin_angles[0] + pin_angles[len(pin_angles) - 1]) / 2);
        rib(s * rail_end_rib);
    }
}

// ---------------------------------------------------------------------
// 3D features
// ---------------------------------------------------------------------

// Place children at angle t, distance d from the head: local X along
// the outward tangent, local Y along the outward normal, Z unchanged.
module place(t, d) {
    p = off(t, d);
    n = nrm(t);
    translate([p[0], p[1], 0])
        rotate([0, 0, atan2(n[1], n[0]) - 90])
            children();
}

// One visor pin: a horizontal teardrop (tip down, clipped at the pin
// radius so it still enters a round hole) standing out of the rail.
module pin() {
    r = pin_diameter / 2;
    z = band_height - pin_from_top;
    translate([0, -0.5, z])
        rotate([-90, 0, 0])
            linear_extrude(height = pin_length + 0.5)
                intersection() {
                    hull() {
                        circle(r = r);
                        // after rotate([-90,0,0]) local +Y is print -Z
                        translate([0, r * sqrt(2)]) circle(r = 0.01);
                    }
                    square([2 * r, 2 * r], center = true);
                }
}

// End tab with a vertical slot for the strap. The tab continues the
// band tangentially past its end; `side` is -1 (left) or +1 (right).
module strap_tab(side) {
    slot_gap = strap_thickness + 1;
    slot_h = strap_width + 1;
    t = side * band_sweep;
    p = off(t, band_out / 2);
    v = side * tng(t); // points away from the band
    translate([p[0], p[1], 0])
        rotate([0, 0, atan2(v[1], v[0])])
            difference() {
                hull() {
                    translate([-1, -tab_thickness / 2, 0])
                        cube([1, tab_thickness, band_height]);
                    translate([tab_length - tab_thickness / 2, 0, 0])
                        cylinder(d = tab_thickness, h = band_height);
                }
                translate([tab_length - tab_thickness / 2 - 2 - slot_gap,
                           -tab_thickness, (band_height - slot_h) / 2])
                    cube([slot_gap, 2 * tab_thickness, slot_h]);
            }
}

module headband() {
    linear_extrude(height = band_height) outline();
    for (s = [-1, 1]) {
        for (a = pin_angles) place(s * a, rail_out) pin();
        strap_tab(s);
    }
}

if (mode == "top_view")
    projection() headband();
else
    headband();
