// Wall-mounted filament spool holder -- parametric OpenSCAD source
//
// Two printed parts and hardware-store hardware:
//   wall-bracket  a plate screwed to the wall with a boss that holds an
//                 M8 threaded rod (or a fully threaded M8 bolt) square to
//                 the wall; the rod's nut (or bolt head) sits in a hex
//                 pocket at the back, a second nut locks it at the front.
//   spool-hub     (print two) a cone with a 608 skateboard bearing at its
//                 wide end. The two cones enter the spool's centre hole
//                 from both sides, so one holder takes spools with holes
//                 from about 30 to 62 mm and the spool turns freely.
//
// Print orientations are the ones modelled here: the bracket lies on its
// back, the hub stands on its narrow end. Neither needs supports.
//
// Export one part:
//   openscad -o wall-bracket.stl -D 'part="wall-bracket"' cad/spool-holder.scad
//   openscad -o spool-hub.stl    -D 'part="spool-hub"'    cad/spool-holder.scad
// or run tools/export-stl.sh.
//
// All dimensions in millimetres. Licensed CERN-OHL-P-2.0 (see README.md).

/* [Part] */

// Which part to render: "all" lays both out side by side for a preview.
// "views" is a 2D drawing (front and side views) for SVG/DXF export.
part = "all"; // [all, wall-bracket, spool-hub, views]

/* [Rod and bearing] */

// Rod (M8 threaded rod or fully threaded M8 bolt) nominal diameter.
rod_d = 8;
// Clearance added to the rod hole in the bracket.
rod_clearance = 0.4;
// Nut (or bolt head) across flats and thickness, for the back pocket.
nut_af = 13;
nut_h = 6.5;
// Clearance for the nut pocket (across flats and depth).
nut_clearance = 0.3;

// 608 bearing: outer diameter, width, outer diameter of its inner ring.
bearing_d = 22;
bearing_h = 7;
bearing_inner_ring_d = 12;
// Added to the bearing pocket diameter: 0.1-0.2 gives a press fit on most
// printers; raise it if the bearing will not go in.
bearing_fit = 0.15;

/* [Wall bracket] */

plate_width = 60;
plate_height = 100;
plate_thickness = 6;
plate_corner_r = 6;

// Wood or plug screws (countersunk): shank and head diameter.
screw_d = 4.5;
screw_head_d = 9;
// Distance of the two screw holes from the plate centre (up and down).
screw_offset = 38;

// Boss around the rod: diameter and height above the plate.
boss_d = 24;
boss_height = 30;

// Ribs above and below the boss, in the plane of the load.
rib_thickness = 5;
// How far out from the rod axis the ribs reach on the plate.
rib_reach = 30;

/* [Spool hub] */

// Cone diameters: the narrow end enters the spool, the wide end stays out.
hub_small_d = 28;
hub_large_d = 64;
hub_height = 24;

$fn = 64;

// ---------------------------------------------------------------------

assert(rib_reach < screw_offset - screw_head_d / 2 - 2,
       "the ribs would cover the screw heads: reduce rib_reach");
assert(bearing_d + 2 * 3 <= hub_large_d, "hub too small for the bearing");
assert(bearing_inner_ring_d + 2 < hub_small_d, "hub too small for the rod");

module rounded_square(w, h, r) {
    offset(r = r) square([w - 2 * r, h - 2 * r], center = true);
}

// A countersunk screw hole through a plate of thickness t, head on top.
module countersunk_hole(t) {
    sink = (screw_head_d - screw_d) / 2; // 90 degree countersink
    translate([0, 0, -1]) cylinder(d = screw_d, h = t + 2);
    translate([0, 0, t - sink]) cylinder(d1 = screw_d, d2 = screw_head_d, h = sink + 0.01);
    translate([0, 0, t]) cylinder(d = screw_head_d, h = 1);
}

// One rib, in the YZ plane, running from the boss along +Y.
module rib() {
    top = plate_thickness + boss_height - 2;
    rotate([90, 0, 90])
        linear_extrude(height = rib_thickness, center = true)
            polygon([
                [0, plate_thickness - 0.01],
                [rib_reach, plate_thickness - 0.01],
                [rib_reach, plate_thickness + 1],
                [boss_d / 2 - 0.5, top],
                [0, top],
            ]);
}

// The bracket lies on its back: z = 0 is the face against the wall, the
// rod axis is the Z axis (square to the wall), +Y points up the wall.
module wall_bracket() {
    difference() {
        union() {
            linear_extrude(height = plate_thickness)
                rounded_square(plate_width, plate_height, plate_corner_r);
            cylinder(d = boss_d, h = plate_thickness + boss_height);
            rib();
            mirror([0, 1, 0]) rib();
        }
        // rod hole
        translate([0, 0, -1])
            cylinder(d = rod_d + rod_clearance, h = plate_thickness + boss_height + 2);
        // hex pocket for the back nut or the bolt head, open at the back
        translate([0, 0, -0.01])
            cylinder(d = (nut_af + nut_clearance) / cos(30), h = nut_h + nut_clearance, $fn = 6);
        // screw holes
        for (y = [-screw_offset, screw_offset])
            translate([0, y, 0]) countersunk_hole(plate_thickness);
        // chamfer at the mouth of the rod hole
        translate([0, 0, plate_thickness + boss_height - 1])
            cylinder(d1 = rod_d + rod_clearance, d2 = rod_d + rod_clearance + 2.2, h = 1.1);
    }
}

// The hub stands on its narrow end (z = 0), the bearing pocket opens at
// the top, in the wide end: the cone's overhang stays under 45 degrees.
module spool_hub() {
    hole_d = bearing_inner_ring_d + 2; // only the bearing touches the rod
    pocket_d = bearing_d + bearing_fit;
    rotate_extrude()
        polygon([
            [hole_d / 2, 0],
            [hub_small_d / 2, 0],
            [hub_large_d / 2, hub_height - 2],
            [hub_large_d / 2, hub_height],
            [pocket_d / 2, hub_height],
            [pocket_d / 2, hub_height - bearing_h],
            [hole_d / 2, hub_height - bearing_h],
        ]);
}

overhang = atan((hub_large_d - hub_small_d) / 2 / (hub_height - 2));
assert(overhang <= 45, str("hub cone overhang is ", overhang, " degrees: make the hub taller"));
echo(str("hub cone overhang: ", overhang, " degrees from vertical"));
echo(str("fits spool holes from ", hub_small_d + 2, " to ", hub_large_d - 2, " mm"));

if (part == "wall-bracket") {
    wall_bracket();
} else if (part == "spool-hub") {
    spool_hub();
} else if (part == "views") {
    // bracket seen from the front, as on the wall
    projection() wall_bracket();
    // bracket from the side: wall on the left, rod pointing right
    translate([plate_width / 2 + 15, 0]) projection() rotate([0, 90, 0]) wall_bracket();
    // hub from the side: narrow end on the left
    translate([plate_width / 2 + 15 + plate_thickness + boss_height + 20, 0])
        projection() rotate([0, 90, 0]) spool_hub();
} else {
    wall_bracket();
    translate([plate_width / 2 + hub_large_d / 2 + 10, 0, 0]) spool_hub();
}
