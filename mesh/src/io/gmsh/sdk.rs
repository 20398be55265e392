//! Meshing `.geo` files through the gmsh SDK (cargo feature `gmsh`, links
//! `libgmsh` from Debian's `libgmsh-dev`).
//!
//! A small hand-written binding of the C API (`gmshc.h`) rather than
//! `gmsh-sys`, whose generated signatures no longer match gmsh 4.8
//! (14 signatures differ). gmsh keeps global state, so calls are
//! serialised through a lock. The mesh is handed over through a temporary MSH
//! 4.1 binary file and read by [`super::read`], so it is checked like any file.

use std::ffi::{c_char, c_double, c_int, c_void, CStr, CString};
use std::path::Path;
use std::sync::Mutex;

use crate::error::{MeshError, Result};
use crate::mesh::Mesh;

#[link(name = "gmsh")]
extern "C" {
    fn gmshInitialize(
        argc: c_int,
        argv: *mut *mut c_char,
        read_config_files: c_int,
        ierr: *mut c_int,
    );
    fn gmshFinalize(ierr: *mut c_int);
    fn gmshOpen(file_name: *const c_char, ierr: *mut c_int);
    fn gmshWrite(file_name: *const c_char, ierr: *mut c_int);
    fn gmshOptionSetNumber(name: *const c_char, value: c_double, ierr: *mut c_int);
    fn gmshOnelabSetNumber(
        name: *const c_char,
        value: *mut c_double,
        value_n: usize,
        ierr: *mut c_int,
    );
    fn gmshModelGetDimension(ierr: *mut c_int) -> c_int;
    fn gmshModelMeshGenerate(dim: c_int, ierr: *mut c_int);
    fn gmshModelMeshSetOrder(order: c_int, ierr: *mut c_int);
    fn gmshLoggerGetLastError(error: *mut *mut c_char, ierr: *mut c_int);
    fn gmshFree(p: *mut c_void);
}

static GMSH: Mutex<()> = Mutex::new(());

/// How to mesh a `.geo` file.
#[derive(Clone, Debug, PartialEq)]
pub struct GeoOptions {
    /// Dimension to mesh up to (`None`: the model's dimension).
    pub dim: Option<usize>,
    /// Geometric order of the elements (1 straight, 2 curved quadratic).
    pub order: usize,
    /// Multiplies every mesh size (gmsh `Mesh.MeshSizeFactor`): 0.5 halves
    /// the cell size.
    pub size_factor: f64,
    /// ONELAB parameters set before the file is read, overriding its
    /// `DefineConstant[ x = {..., Name "Parameters/x"} ]` values.
    pub parameters: Vec<(String, f64)>,
}

impl Default for GeoOptions {
    fn default() -> Self {
        GeoOptions {
            dim: None,
            order: 1,
            size_factor: 1.0,
            parameters: Vec::new(),
        }
    }
}

/// Checks a gmsh error flag, fetching gmsh's last message.
fn check(ierr: c_int, what: &str) -> Result<()> {
    if ierr == 0 {
        return Ok(());
    }
    let mut msg: *mut c_char = std::ptr::null_mut();
    let mut e = 0;
    // SAFETY: gmsh allocates the message with its own allocator; we copy it
    // and release it with gmshFree.
    let text = unsafe {
        gmshLoggerGetLastError(&mut msg, &mut e);
        if msg.is_null() {
            String::new()
        } else {
            let s = CStr::from_ptr(msg).to_string_lossy().into_owned();
            gmshFree(msg.cast());
            s
        }
    };
    Err(MeshError::Gmsh(format!("{what} failed: {text}")))
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| MeshError::Argument(format!("'{s}' contains a NUL byte")))
}

/// Meshes the `.geo` (or any file gmsh opens) at `path` and returns the mesh.
pub fn mesh_geo(path: impl AsRef<Path>, options: &GeoOptions) -> Result<Mesh> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(MeshError::io(
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let valid = options.size_factor.is_finite()
        && options.size_factor > 0.0
        && (1..=2).contains(&options.order);
    if !valid {
        return Err(MeshError::Argument(format!(
            "gmsh options: size factor must be positive (got {}), order 1 or 2 (got {})",
            options.size_factor, options.order
        )));
    }
    let file = cstring(&path.to_string_lossy())?;
    let dir = tempfile_dir(path)?;
    let out_path = dir.join("mesh.msh");
    let out = cstring(&out_path.to_string_lossy())?;

    let guard = GMSH.lock().unwrap_or_else(|p| p.into_inner());
    let mut ierr = 0;
    // SAFETY: gmsh is used from one thread at a time (the lock above), and
    // finalised whatever happens in between.
    let result = unsafe {
        gmshInitialize(0, std::ptr::null_mut(), 0, &mut ierr);
        check(ierr, "gmshInitialize")?;
        let r = generate(path, &file, &out, options);
        gmshFinalize(&mut ierr);
        r
    };
    drop(guard);
    let mesh = result.and_then(|()| super::read(&out_path));
    let _ = std::fs::remove_dir_all(&dir);
    mesh.map_err(|e| match e {
        MeshError::Gmsh(m) => MeshError::Gmsh(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Sets a gmsh option. Call only between gmshInitialize and gmshFinalize.
fn set_option(name: &str, value: f64) -> Result<()> {
    let n = cstring(name)?;
    let mut ierr = 0;
    // SAFETY: valid NUL-terminated name and error pointer.
    unsafe { gmshOptionSetNumber(n.as_ptr(), value, &mut ierr) };
    check(ierr, name)
}

/// Reads `file`, meshes it and writes the result to `out`. Call only between
/// gmshInitialize and gmshFinalize, holding the lock.
fn generate(path: &Path, file: &CStr, out: &CStr, options: &GeoOptions) -> Result<()> {
    let mut ierr = 0;
    set_option("General.Terminal", 0.0)?;
    for (name, value) in &options.parameters {
        let n = cstring(name)?;
        let mut v = *value;
        // SAFETY: valid name, a pointer to one double, and an error pointer.
        unsafe { gmshOnelabSetNumber(n.as_ptr(), &mut v, 1, &mut ierr) };
        check(ierr, &format!("setting parameter {name}"))?;
    }
    // SAFETY: valid NUL-terminated path and error pointer.
    unsafe { gmshOpen(file.as_ptr(), &mut ierr) };
    check(ierr, &format!("reading {}", path.display()))?;
    set_option("Mesh.MeshSizeFactor", options.size_factor)?;
    set_option("Mesh.MshFileVersion", 4.1)?;
    set_option("Mesh.Binary", 1.0)?;
    set_option("Mesh.SaveAll", 0.0)?;
    let dim = match options.dim {
        Some(d) => d as c_int,
        // SAFETY: error pointer only.
        None => unsafe { gmshModelGetDimension(&mut ierr) },
    };
    check(ierr, "gmshModelGetDimension")?;
    // SAFETY: plain values and error pointers.
    unsafe { gmshModelMeshGenerate(dim, &mut ierr) };
    check(ierr, "meshing")?;
    if options.order > 1 {
        // SAFETY: as above.
        unsafe { gmshModelMeshSetOrder(options.order as c_int, &mut ierr) };
        check(ierr, "raising the mesh order")?;
    }
    // SAFETY: valid NUL-terminated path and error pointer.
    unsafe { gmshWrite(out.as_ptr(), &mut ierr) };
    check(ierr, "writing the mesh")
}

/// A fresh private directory for the hand-over file.
fn tempfile_dir(path: &Path) -> Result<std::path::PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let dir = base.join(format!("pde-mesh-gmsh-{}-{attempt}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(MeshError::io(&dir, e)),
        }
    }
    Err(MeshError::io(
        path,
        std::io::Error::other("no temporary directory could be made"),
    ))
}
