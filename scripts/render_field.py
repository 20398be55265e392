# Renders a field of a .vtu to a PNG, headless:
#   xvfb-run -a pvbatch scripts/render_field.py FILE.vtu FIELD OUT.png [range=LO,HI [PRESET [POINTS|CELLS [size=W,H [edges]]]]]
# Defaults: range 0..1, preset Blues, cell data, 1600x400 pixels, no mesh edges. (The range is one word:
# pvbatch mangles arguments that start with a dash.)
# (docs/img/cylinder_scalar.png: out/cylinder_scalar/cylinder_scalar_01200.vtu dye range=0,1;
#  docs/img/cylinder_gnn_*.png: vorticity range=-40,40 "Cool to Warm" POINTS;
#  docs/img/spiral_waves.png: out/spiral_waves/spiral_waves_08000.vtu u range=0,1 Viridis POINTS size=800,800;
#  docs/img/rotating_hill_*.png: c range=0,1 Viridis CELLS size=700,700 edges;
#  docs/img/moving_front_*.png: u range=-1,1 "Cool to Warm" POINTS size=700,700 edges)
import sys
from paraview.simple import (ColorBy, GetActiveViewOrCreate, GetColorTransferFunction,
                             SaveScreenshot, Show, XMLUnstructuredGridReader)

path, field, out = sys.argv[1:4]
lo, hi = map(float, sys.argv[4].split('=')[1].split(',')) if len(sys.argv) > 4 else (0.0, 1.0)
preset = sys.argv[5] if len(sys.argv) > 5 else 'Blues'
association = sys.argv[6] if len(sys.argv) > 6 else 'CELLS'
width, height = map(int, sys.argv[7].split('=')[1].split(',')) if len(sys.argv) > 7 else (1600, 400)
edges = len(sys.argv) > 8 and sys.argv[8] == 'edges'
reader = XMLUnstructuredGridReader(FileName=[path])
view = GetActiveViewOrCreate('RenderView')
view.ViewSize = [width, height]
shown = Show(reader, view)
if edges:
    shown.SetRepresentationType('Surface With Edges')
ColorBy(shown, (association, field))
lut = GetColorTransferFunction(field)
lut.RescaleTransferFunction(lo, hi)
lut.ApplyPreset(preset, True)
view.OrientationAxesVisibility = 0
# Fit the domain's bounding box into the image.
reader.UpdatePipeline()
x0, x1, y0, y1, _, _ = reader.GetDataInformation().GetBounds()
cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
view.CameraPosition = [cx, cy, 10.0]
view.CameraFocalPoint = [cx, cy, 0.0]
view.CameraViewUp = [0.0, 1.0, 0.0]
view.CameraParallelProjection = 1
view.CameraParallelScale = 1.03 * max(0.5 * (y1 - y0), 0.5 * (x1 - x0) * height / width)
SaveScreenshot(out, view, ImageResolution=[width, height])
