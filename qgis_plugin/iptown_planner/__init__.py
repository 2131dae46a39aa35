"""IP Town Planner: a QGIS plugin on the iptown_gis library."""


def classFactory(iface):
    """Create the plugin (called by QGIS with its QgisInterface, or None when headless)."""
    from .plugin import IptownPlannerPlugin

    return IptownPlannerPlugin(iface)
