"""`package://` mesh URIs, resolved as ROS would, without ROS.

Why: nearly every robot description a user owns comes from a ROS package and names its meshes
`package://<pkg>/meshes/...`. Neither MuJoCo nor PyBullet knows where `<pkg>` lives (PyBullet
guesses for its own data only), so the engines are handed a URDF whose mesh paths are absolute,
resolved here once, when robot.yaml is loaded: a robot that cannot be built is refused by
`load_robot` (and so by `robot-rl robots`), in one line, not by an engine's traceback later.

Where `<pkg>` is looked for, first folder holding the file wins:
  1. robot.yaml's `packages:` map (package name -> folder, relative to robot.yaml);
  2. the URDF's own folder tree: walking up from the URDF's folder, a folder named `<pkg>` or whose
     package.xml names it, or a child folder named `<pkg>` (so pybullet_data's
     `package://meshes/...`, which has no package name, is relative to the URDF's folder, and a
     sibling package of a ROS workspace or `share/` folder is found);
  3. `ROS_PACKAGE_PATH` (ROS 1: each entry a package or a folder of packages), then
     `AMENT_PREFIX_PATH` (ROS 2: `<prefix>/share/<pkg>`);
  4. an installed Python package named `<pkg>`.
Plain relative file names are relative to the URDF's folder (the URDF convention); `file://` URIs
are paths. Standard library only: robot.yaml loads on a deploy machine without a simulator.
"""

from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from sim.errors import ConfigError

PACKAGE_SCHEME = "package://"
FILE_SCHEME = "file://"
# How deep below a ROS_PACKAGE_PATH entry a package is searched for (rospack crawls the tree; a
# workspace's src/ holds packages one or two levels down, e.g. src/<repo>/<pkg>/package.xml).
MAX_SEARCH_DEPTH = 3


def package_xml_name(folder: Path) -> str | None:
    """The `<name>` a folder's package.xml declares, or None (no package.xml, or unreadable)."""
    xml = folder / "package.xml"
    if not xml.is_file():
        return None
    try:
        name = ET.parse(xml).getroot().find("name")
    except (ET.ParseError, OSError):
        return None
    return name.text.strip() if name is not None and name.text else None


def _is_package(folder: Path, pkg: str) -> bool:
    return folder.name == pkg or package_xml_name(folder) == pkg


def _search(root: Path, pkg: str, depth: int) -> Iterable[Path]:
    """Folders under `root` (itself included) that are package `pkg`, breadth first, at most `depth` down."""
    level = [root]
    for _ in range(depth + 1):
        below: list[Path] = []
        for folder in level:
            if _is_package(folder, pkg):
                yield folder
            if (folder / "package.xml").is_file():
                continue  # a package holds no other packages (rospack stops there too)
            try:
                below.extend(sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
            except OSError:
                continue
        level = below


class PackageResolver:
    """Finds the folders of ROS packages for one URDF (see the module docstring for the order).

    `packages`: robot.yaml's map, package name -> absolute folder. The candidate folders are found
    lazily (a ROS_PACKAGE_PATH is crawled only when the map and the tree do not hold the file) and
    kept per package, so a URDF naming fifty meshes of one package walks the tree once.
    """

    def __init__(self, urdf_path: Path, packages: Mapping[str, Path] | None = None):
        self.urdf_path = Path(urdf_path).resolve()
        self.packages = dict(packages or {})
        self._roots: dict[str, list[Path]] = {}
        self._pending: dict[str, Iterator[Path]] = {}

    def _candidates(self, pkg: str) -> Iterator[Path]:
        """Every folder that may be package `pkg`, in resolution order (files in them not checked)."""
        if pkg in self.packages:
            yield Path(self.packages[pkg])
        for folder in (self.urdf_path.parent, *self.urdf_path.parent.parents):
            if _is_package(folder, pkg):
                yield folder
            if (folder / pkg).is_dir():
                yield folder / pkg
        for entry in _env_paths("ROS_PACKAGE_PATH"):
            yield from _search(entry, pkg, MAX_SEARCH_DEPTH)
        for prefix in _env_paths("AMENT_PREFIX_PATH"):
            if (prefix / "share" / pkg).is_dir():
                yield prefix / "share" / pkg
        python = _python_package(pkg)
        if python is not None:
            yield python

    def package_roots(self, pkg: str) -> Iterator[Path]:
        """The candidate folders of `pkg` in order, found as far as a caller iterates (and remembered)."""
        roots = self._roots.setdefault(pkg, [])
        pending = self._pending.setdefault(pkg, self._candidates(pkg))
        i = 0
        while True:
            if i == len(roots):
                nxt = next(pending, None)
                if nxt is None:
                    return
                roots.append(nxt)
            yield roots[i]
            i += 1

    def resolve(self, uri: str, link: str = "", source: str = "") -> Path:
        """The absolute file a mesh `filename` names, or a one-line `ConfigError` saying where it looked.

        `link` names the URDF link using it and `source` the file to blame (robot.yaml or the URDF), for the message.
        """
        where = f"link[{link}] mesh" if link else "mesh"
        source = source or str(self.urdf_path)
        if uri.startswith(FILE_SCHEME):
            path = Path(uri[len(FILE_SCHEME):])
            if not path.is_absolute():
                path = self.urdf_path.parent / path
        elif uri.startswith(PACKAGE_SCHEME):
            pkg, _, rest = uri[len(PACKAGE_SCHEME):].partition("/")
            if not pkg or not rest:
                raise ConfigError(source, where, f"'{uri}' is not package://<package>/<path>")
            roots = []
            for root in self.package_roots(pkg):
                if (root / rest).is_file():
                    return (root / rest).resolve()
                roots.append(root)
            looked = ", ".join(str(r) for r in roots) if roots else "no folder is that package"
            raise ConfigError(source, where, (
                f"cannot resolve '{uri}' of {self.urdf_path.name}: package '{pkg}' with that file not found "
                f"(looked in robot.yaml packages:, the URDF's folder and its parents, ROS_PACKAGE_PATH, "
                f"AMENT_PREFIX_PATH, python packages; candidates: {looked}); add `packages: {{{pkg}: FOLDER}}` "
                f"to robot.yaml (FOLDER relative to it) or the folder holding '{pkg}' to ROS_PACKAGE_PATH"))
        else:
            path = Path(uri)
            if not path.is_absolute():
                path = self.urdf_path.parent / path
        if not path.is_file():
            raise ConfigError(source, where, f"mesh file '{uri}' of {self.urdf_path.name} not found (looked at "
                              f"{path}); relative names are relative to the URDF's folder")
        return path.resolve()


def _env_paths(name: str) -> list[Path]:
    return [Path(p) for p in os.environ.get(name, "").split(os.pathsep) if p]


def _python_package(pkg: str) -> Path | None:
    """The folder of an installed Python package named `pkg` (found, not imported), or None."""
    if not pkg.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(pkg)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


# Mesh formats both engines read as collision geometry: MuJoCo compiles STL, OBJ and its own MSH,
# PyBullet STL, OBJ and Collada; a ROS package's .dae meshes are usually its visuals.
COLLISION_MESH_SUFFIXES = (".stl", ".obj")


def resolve_mesh_files(meshes: Iterable[tuple[str, str]], resolver: PackageResolver, source: str = "",
                       collision: Iterable[tuple[str, str]] = ()) -> dict[str, Path]:
    """Each distinct mesh `filename` of a URDF ((link, filename) pairs) -> its absolute file.

    `collision`: the (link, filename) pairs of collision geometry, whose format both engines must read
    (a Collada .dae collision mesh is refused here, in one line, not by MuJoCo's compiler later).
    """
    files: dict[str, Path] = {}
    for link, uri in meshes:
        if uri not in files:
            files[uri] = resolver.resolve(uri, link, source)
    for link, uri in collision:
        if files[uri].suffix.lower() not in COLLISION_MESH_SUFFIXES:
            raise ConfigError(source or str(resolver.urdf_path), f"link[{link}] collision mesh", (
                f"'{uri}' is a {files[uri].suffix or 'suffix-less'} file; both engines collide with STL or OBJ "
                "meshes only: convert it (e.g. with trimesh or MeshLab) and point the URDF's <collision> at the copy"))
    return files
