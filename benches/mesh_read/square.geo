// Unit square with unstructured triangles for the mesh-reading benchmark.
// Mesh size h gives about 2.3 / h^2 triangles (h = 0.0015: about 1M).
DefineConstant[ h = {0.0015, Name "Parameters/h"} ];
Point(1) = {0, 0, 0, h};
Point(2) = {1, 0, 0, h};
Point(3) = {1, 1, 0, h};
Point(4) = {0, 1, 0, h};
Line(1) = {1, 2};
Line(2) = {2, 3};
Line(3) = {3, 4};
Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4};
Plane Surface(1) = {1};
Mesh.Algorithm = 5; // Delaunay: fast for large meshes
Physical Curve("boundary") = {1, 2, 3, 4};
Physical Surface("domain") = {1};
