"""Raw EVTX recordings, read by Lanner itself, fire the Elastic rules they are named after:
each recording is hunted alone with its corpus rule, and the alert's source event must hold
the values that make the rule's query match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import load_rule_file
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from lanner.store.events import flatten
from tests.conftest import require_shared

EVTX = Path(__file__).parents[2] / ".." / "shared" / "data" / "real" / "evtx"
RULES = Path(__file__).parents[2] / ".." / "shared" / "corpus" / "detection-rules-eql" / "rules"
MITRE = "EVTX-to-MITRE-Attack/"
SAMPLES = "EVTX-ATTACK-SAMPLES/"

# (recording, rule file, values the first alert's source event must hold)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (MITRE + "TA0040-Impact/T1565-Data manipulation/ID11-DNS hosts files modified.evtx",
     "cross-platform/impact_hosts_file_modified.toml",
     {"event.code": "11", "file.path": "C:\\Windows\\System32\\drivers\\etc\\hosts",
      "event.type": ["creation"]}),
    (SAMPLES + "Execution/sysmon_11_1_lolbas_downldr_desktopimgdownldr.evtx",
     "windows/command_and_control_remote_file_copy_desktopimgdownldr.toml",
     {"process.name": "desktopimgdownldr.exe",
      "process.args": ["desktopimgdownldr.exe", "/lockscreenurl:https://a.uguu.se/Hv0bgvgHGNeH_Bin.7z",
                       "/eventName:desktopimgdownldr"]}),
    (SAMPLES + "Credential Access/discovery_sysmon_1_iis_pwd_and_config_discovery_appcmd.evtx",
     "windows/credential_access_iis_apppoolsa_pwd_appcmd.toml",
     {"process.name": "appcmd.exe", "process.parent.name": "powershell.exe"}),
    (SAMPLES + "Credential Access/CA_Mimikatz_Memssp_Default_Logs_Sysmon_11.evtx",
     "windows/credential_access_mimikatz_memssp_default_logs.toml",
     {"file.name": "mimilsa.log", "process.name": "lsass.exe"}),
    (MITRE + "TA0006-Credential Access/T1003-Credential dumping/"
     "ID1-12-13-Wdigest authentication activation.evtx",
     "windows/credential_access_mod_wdigest_security_provider.toml",
     {"registry.value": "UseLogonCredential", "registry.data.strings": ["1"],
      "registry.data.type": "SZ_DWORD"}),
    (MITRE + "TA0005-Defense Evasion/T1070.001-Clear Windows event logs/"
     "ID4688-Clear event log attempt (native).evtx",
     "windows/defense_evasion_clearing_windows_event_logs.toml",
     {"event.code": "4688", "event.action": "created-process", "process.name": "wevtutil.exe",
      "process.args": ['"C:\\Windows\\system32\\wevtutil.exe"', "", "cl",
                       "RTWorkQueueTheading"]}),
    (SAMPLES + "Defense Evasion/de_PsScriptBlockLogging_disabled_sysmon12_13.evtx",
     "windows/defense_evasion_disable_posh_scriptblocklogging.toml",
     {"registry.value": "EnableScriptBlockLogging", "registry.data.strings": ["0"]}),
    (MITRE + "TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify System "
     "Firewall/ID4688-5447-4950-Firewall disabled (command).evtx",
     "windows/defense_evasion_disable_windows_firewall_rules_with_netsh.toml",
     {"process.name": "netsh.exe",
      "process.args": ["netsh", "", "advfirewall", "set", "privateprofile", "state", "off"]}),
    (MITRE + "TA0005-Defense Evasion/T1564-Hide artifacts/"
     "ID4688-Linux Subsystem installation (WSL).evtx",
     "windows/defense_evasion_wsl_enabled_via_dism.toml",
     {"process.name": "Dism.exe", "process.parent.name": "powershell.exe"}),
    (MITRE + "TA0040-Impact/T1490-Inhibit System Recovery/ID4688-Delete VSS backup (WMI).evtx",
     "windows/impact_volume_shadow_copy_deletion_via_wmic.toml",
     {"process.name": "WMIC.exe",
      "process.args": ["wmic", "", "shadowcopy", "delete", "/nointeractive"]}),
    (SAMPLES + "Execution/Sysmon_Exec_CompiledHTML.evtx",
     "windows/execution_via_compiled_html_file.toml",
     {"process.name": "cmd.exe", "process.parent.name": "hh.exe"}),
    (SAMPLES + "Lateral Movement/LM_add_new_namedpipe_tp_nullsession_registry_turla_like_ttp.evtx",
     "windows/lateral_movement_defense_evasion_lanman_nullsessionpipe_modification.toml",
     {"registry.value": "NullSessionPipes", "registry.data.type": "REG_BINARY"}),
    (SAMPLES + "Lateral Movement/sharprdp_sysmon_7_mstscax.dll.evtx",
     "windows/lateral_movement_suspicious_rdp_client_imageload.toml",
     {"event.action": "Image loaded", "file.name": "mstscax.dll",
      "process.name": "SharpRDP.exe"}),
    (SAMPLES + "Persistence/persistence_sysmon_11_13_1_shime_appfix.evtx",
     "windows/persistence_via_application_shimming.toml",
     {"process.name": "sdbinst.exe", "process.parent.name": "Compatadmin.exe"}),
    (SAMPLES + "Persistence/evasion_persis_hidden_run_keyvalue_sysmon_13.evtx",
     "windows/persistence_via_hidden_run_key_valuename.toml",
     {"registry.path": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\",
      "registry.value": "Run", "registry.data.strings": ['"c:\\windows\\tasks\\taskhost.exe"']}),
    (SAMPLES + "Persistence/sysmon_20_21_1_CommandLineEventConsumer.evtx",
     "windows/persistence_via_windows_management_instrumentation_event_subscription.toml",
     {"process.name": "WMIC.exe", "process.parent.name": "python.exe"}),
    (SAMPLES + "Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx",
     "windows/persistence_scheduled_task_creation_winlog.toml",
     {"event.code": "4698", "event.action": "scheduled-task-created",
      "winlog.event_data.TaskName": "\\CYAlyNSS"}),
    (SAMPLES + "Lateral Movement/LM_Remote_Service02_7045.evtx",
     "windows/persistence_service_windows_service_winlog.toml",
     {"event.code": "7045", "winlog.event_data.ImagePath": "cmd.exe",
      "winlog.channel": "System"}),
    (MITRE + "TA0003-Persistence/T1098.xxx-Account manipulation/"
     "ID4728-4756-Member added to sensitive domain groups.evtx",
     "windows/persistence_user_account_added_to_privileged_group_ad.toml",
     {"event.action": "added-member-to-group", "group.name": "Domain Admins",
      "user.target.name": "honey-pot1"}),
    (SAMPLES + "Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx",
     "windows/privilege_escalation_uac_bypass_event_viewer.toml",
     {"process.name": "powershell.exe", "process.parent.name": "eventvwr.exe"}),
    (SAMPLES + "Privilege Escalation/Sysmon_UACME_63.evtx",
     "windows/privilege_escalation_uac_bypass_winfw_mmc_hijack.toml",
     {"process.name": "cmd.exe", "process.parent.name": "mmc.exe"}),
    (SAMPLES + "Privilege Escalation/privesc_roguepotato_sysmon_17_18.evtx",
     "windows/privilege_escalation_via_rogue_named_pipe.toml",
     {"event.code": "17", "file.name": "\\RoguePotato\\pipe\\epmapper"}),
    (SAMPLES + "Credential Access/sysmon_10_lsass_mimikatz_sekurlsa_logonpasswords.evtx",
     "windows/credential_access_suspicious_lsass_access_generic.toml",
     {"process.name": "mimikatz.exe", "winlog.event_data.GrantedAccess": "0x1010",
      "winlog.event_data.TargetImage": "C:\\Windows\\system32\\lsass.exe"}),
    (MITRE + "TA0003-Persistence/T1098.xxx-Account manipulation/"
     "ID4781-Computer account renamed without a trailing $ (CVE-2021-42278).evtx",
     "windows/privilege_escalation_samaccountname_spoofing_attack.toml",
     {"event.action": "renamed-user-account", "user.target.name": "compnay-88$",
      "winlog.event_data.NewTargetUserName": "rootdc1"}),
    (SAMPLES + "Command and Control/DE_sysmon-3-rdp-tun.evtx",
     "windows/command_and_control_rdp_tunnel_plink.toml",
     {"process.name": "plink.exe", "process.args_count": 11}),
    (SAMPLES + "Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx",
     "windows/privilege_escalation_disable_uac_registry.toml",
     {"registry.value": "EnableLUA", "registry.data.strings": ["0"]}),
]


def _hunt(recording: str, rule_file: str) -> list[dict[str, Any]]:
    rule = load_rule_file(RULES / rule_file)
    with EventStore() as store:
        report = store.ingest_file(EVTX / recording)
        assert report.bad_lines == []
        run = Detector(DuckDBBackend(store), AlertStore(store.con)).hunt(rule)
    assert run.error is None, run.error
    return run.alerts


@pytest.mark.parametrize(("recording", "rule_file", "expected"), CASES,
                         ids=[Path(case[0]).stem for case in CASES])
def test_recording_fires_its_rule(recording: str, rule_file: str,
                                  expected: dict[str, Any]) -> None:
    require_shared()
    alerts = _hunt(recording, rule_file)
    assert alerts, f"{rule_file} did not fire on {recording}"
    source = flatten({key: value for key, value in alerts[0].items()
                      if not key.startswith("kibana.")})
    assert {field: source.get(field) for field in expected} == expected


def test_runas_sequence_joins_logon_and_process_of_the_security_channel() -> None:
    """A sequence over 4624 (logon type, user id, svchost) and 4688 from the same computer."""
    require_shared()
    alerts = _hunt(MITRE + "TA0004-Privilege Escalation/T1134-Access Token Manipulation/"
                   "ID4688,4648,4624-Runas execution with different user.evtx",
                   "windows/privilege_escalation_create_process_as_different_user.toml")
    blocks = sorted((alert for alert in alerts if "kibana.alert.group.index" in alert),
                    key=lambda alert: alert["kibana.alert.group.index"])
    logon, process = (flatten({key: value for key, value in block.items()
                               if not key.startswith("kibana.")}) for block in blocks)
    assert logon["event.action"] == "logged-in"
    assert logon["event.outcome"] == "success"
    assert logon["process.name"] == "svchost.exe"
    assert logon["winlog.event_data.LogonProcessName"].startswith("seclogo")
    assert process["event.action"] == "created-process"
    assert logon["winlog.computer_name"] == process["winlog.computer_name"]
