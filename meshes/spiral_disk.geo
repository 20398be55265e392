// Disk of radius 40 (Barkley units) centred at the origin, for spiral waves
// (engine/examples/spiral_period.rs). Unstructured triangles of size h.
// Physical curve: boundary; surface: domain.
//   gmsh meshes/spiral_disk.geo -2 -format msh41 -o meshes/spiral_disk.msh
R = 40;
h = 0.8;
Point(1) = {0, 0, 0, h};
Point(2) = {R, 0, 0, h};
Point(3) = {0, R, 0, h};
Point(4) = {-R, 0, 0, h};
Point(5) = {0, -R, 0, h};
Circle(1) = {2, 1, 3};
Circle(2) = {3, 1, 4};
Circle(3) = {4, 1, 5};
Circle(4) = {5, 1, 2};
Curve Loop(1) = {1, 2, 3, 4};
Plane Surface(1) = {1};
Physical Curve("boundary") = {1, 2, 3, 4};
Physical Surface("domain") = {1};
