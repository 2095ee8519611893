"""The component: world `policy` of wit/worlds.wit, over the pure logic in `pdb_guard`."""

import wit_world
from componentize_py_types import Err
from wit_world.exports import module_info

import pdb_guard
from tke_recycle_sdk.settings import SettingsError
from tke_recycle_sdk.wit_adapter import HostCluster, findings_to_wit


# An exception escaping an export traps the component after componentize-py prints its
# traceback; the host quotes the traceback's last lines in its `policy.trapped` finding (a deny).
class WitWorld(wit_world.WitWorld):
    def validate_settings(self, settings: str) -> None:
        try:
            pdb_guard.parse_settings(settings)
        except SettingsError as e:
            raise Err(str(e))

    def check(self, request):
        try:
            findings = pdb_guard.evaluate(list(request.targets), request.settings, HostCluster())
        except SettingsError as e:
            raise Err(str(e))
        return findings_to_wit(findings)


class ModuleInfo(wit_world.exports.ModuleInfo):
    def describe(self) -> module_info.Info:
        return module_info.Info(pdb_guard.NAME, pdb_guard.VERSION, pdb_guard.DESCRIPTION)
