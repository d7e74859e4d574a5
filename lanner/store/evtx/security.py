"""Security channel events as the System integration's `system.security` pipeline leaves them.

Follows elastic/integrations packages/system/data_stream/security/elasticsearch/
ingest_pipeline/{default,standard}.yml: categorization per event id, logon types and failure
reasons, the subject/target/effective user, process and source fields, groups, services and
shares. Like the pipeline, the standard part runs only for events of the
Microsoft-Windows-Security-Auditing and Microsoft-Windows-Eventlog providers.
"""

from __future__ import annotations

from typing import Any

from lanner.store.evtx.cmdline import split_on_unquoted_whitespace

_STANDARD_PROVIDERS = frozenset({"Microsoft-Windows-Eventlog",
                                 "Microsoft-Windows-Security-Auditing"})

def _codes(text: str) -> frozenset[str]:
    """A set of event ids written as one space-separated string."""
    return frozenset(text.split())


_IAM, _CONF, _AUTH = ["iam"], ["configuration"], ["authentication"]
_IAM_CONF = ["iam", "configuration"]
# event id -> (event.category, event.type, event.action), from the "Set ECS categorization
# fields" script.
_CATEGORIZATION: dict[str, tuple[list[str], list[str], str]] = {
    "1100": (["process"], ["end"], "logging-service-shutdown"),
    "1102": (_IAM, ["admin", "change"], "audit-log-cleared"),
    "1104": (_IAM, ["admin"], "logging-full"),
    "1105": (_IAM, ["admin"], "auditlog-archieved"),
    "1108": (_IAM, ["admin"], "logging-processing-error"),
    "4610": (_CONF, ["access"], "authentication-package-loaded"),
    "4611": (_CONF, ["change"], "trusted-logon-process-registered"),
    "4614": (_CONF, ["access"], "notification-package-loaded"),
    "4616": (_CONF, ["change"], "system-time-changed"),
    "4622": (_CONF, ["access"], "security-package-loaded"),
    "4624": (_AUTH, ["start"], "logged-in"),
    "4625": (_AUTH, ["start"], "logon-failed"),
    "4634": (_AUTH, ["end"], "logged-out"),
    "4647": (_AUTH, ["end"], "logged-out"),
    "4648": (_AUTH, ["start"], "logged-in-explicit"),
    "4657": (["registry", "configuration"], ["change"], "registry-value-modified"),
    "4670": (_IAM_CONF, ["admin", "change"], "permissions-changed"),
    "4672": (_IAM, ["admin"], "logged-in-special"),
    "4673": (_IAM, ["admin"], "privileged-service-called"),
    "4674": (_IAM, ["admin"], "privileged-operation"),
    "4688": (["process"], ["start"], "created-process"),
    "4689": (["process"], ["end"], "exited-process"),
    "4697": (_IAM_CONF, ["admin", "change"], "service-installed"),
    "4698": (_IAM_CONF, ["creation", "admin"], "scheduled-task-created"),
    "4699": (_IAM_CONF, ["deletion", "admin"], "scheduled-task-deleted"),
    "4700": (_IAM_CONF, ["change", "admin"], "scheduled-task-enabled"),
    "4701": (_IAM_CONF, ["change", "admin"], "scheduled-task-disabled"),
    "4702": (_IAM_CONF, ["change", "admin"], "scheduled-task-updated"),
    "4706": (_CONF, ["creation"], "domain-trust-added"),
    "4707": (_CONF, ["deletion"], "domain-trust-removed"),
    "4713": (_CONF, ["change"], "kerberos-policy-changed"),
    "4714": (_CONF, ["change"], "encrypted-data-recovery-policy-changed"),
    "4715": (_CONF, ["change"], "object-audit-policy-changed"),
    "4716": (_CONF, ["change"], "trusted-domain-information-changed"),
    "4717": (_IAM_CONF, ["admin", "change"], "system-security-access-granted"),
    "4718": (_IAM_CONF, ["admin", "deletion"], "system-security-access-removed"),
    "4719": (_IAM_CONF, ["admin", "change"], "changed-audit-config"),
    "4720": (_IAM, ["user", "creation"], "added-user-account"),
    "4722": (_IAM, ["user", "change"], "enabled-user-account"),
    "4723": (_IAM, ["user", "change"], "changed-password"),
    "4724": (_IAM, ["user", "change"], "reset-password"),
    "4725": (_IAM, ["user", "deletion"], "disabled-user-account"),
    "4726": (_IAM, ["user", "deletion"], "deleted-user-account"),
    "4727": (_IAM, ["group", "creation"], "added-group-account"),
    "4728": (_IAM, ["group", "change"], "added-member-to-group"),
    "4729": (_IAM, ["group", "change"], "removed-member-from-group"),
    "4730": (_IAM, ["group", "deletion"], "deleted-group-account"),
    "4731": (_IAM, ["group", "creation"], "added-group-account"),
    "4732": (_IAM, ["group", "change"], "added-member-to-group"),
    "4733": (_IAM, ["group", "change"], "removed-member-from-group"),
    "4734": (_IAM, ["group", "deletion"], "deleted-group-account"),
    "4735": (_IAM, ["group", "change"], "modified-group-account"),
    "4737": (_IAM, ["group", "change"], "modified-group-account"),
    "4738": (_IAM, ["user", "change"], "modified-user-account"),
    "4739": (_CONF, ["change"], "domain-policy-changed"),
    "4740": (_IAM, ["user", "change"], "locked-out-user-account"),
    "4741": (_IAM, ["creation", "admin"], "added-computer-account"),
    "4742": (_IAM, ["change", "admin"], "changed-computer-account"),
    "4743": (_IAM, ["deletion", "admin"], "deleted-computer-account"),
    "4744": (_IAM, ["group", "creation"], "added-distribution-group-account"),
    "4745": (_IAM, ["group", "change"], "changed-distribution-group-account"),
    "4746": (_IAM, ["group", "change"], "added-member-to-distribution-group"),
    "4747": (_IAM, ["group", "change"], "removed-member-from-distribution-group"),
    "4748": (_IAM, ["group", "deletion"], "deleted-distribution-group-account"),
    "4749": (_IAM, ["group", "creation"], "added-distribution-group-account"),
    "4750": (_IAM, ["group", "change"], "changed-distribution-group-account"),
    "4751": (_IAM, ["group", "change"], "added-member-to-distribution-group"),
    "4752": (_IAM, ["group", "change"], "removed-member-from-distribution-group"),
    "4753": (_IAM, ["group", "deletion"], "deleted-distribution-group-account"),
    "4754": (_IAM, ["group", "creation"], "added-group-account"),
    "4755": (_IAM, ["group", "change"], "modified-group-account"),
    "4756": (_IAM, ["group", "change"], "added-member-to-group"),
    "4757": (_IAM, ["group", "change"], "removed-member-from-group"),
    "4758": (_IAM, ["group", "deletion"], "deleted-group-account"),
    "4759": (_IAM, ["group", "creation"], "added-distribution-group-account"),
    "4760": (_IAM, ["group", "change"], "changed-distribution-group-account"),
    "4761": (_IAM, ["group", "change"], "added-member-to-distribution-group"),
    "4762": (_IAM, ["group", "change"], "removed-member-from-distribution-group"),
    "4763": (_IAM, ["group", "deletion"], "deleted-distribution-group-account"),
    "4764": (_IAM, ["group", "change"], "type-changed-group-account"),
    "4767": (_IAM, ["user", "change"], "unlocked-user-account"),
    "4768": (_AUTH, ["start"], "kerberos-authentication-ticket-requested"),
    "4769": (_AUTH, ["start"], "kerberos-service-ticket-requested"),
    "4770": (_AUTH, ["start"], "kerberos-service-ticket-renewed"),
    "4771": (_AUTH, ["start"], "kerberos-preauth-failed"),
    "4776": (_AUTH, ["start"], "credential-validated"),
    "4778": (["authentication", "session"], ["start"], "session-reconnected"),
    "4779": (["authentication", "session"], ["end"], "session-disconnected"),
    "4781": (_IAM, ["user", "change"], "renamed-user-account"),
    "4798": (_IAM, ["user", "info"], "group-membership-enumerated"),
    "4799": (_IAM, ["group", "info"], "user-member-enumerated"),
    "4817": (_IAM_CONF, ["admin", "change"], "object-audit-changed"),
    "4902": (_IAM_CONF, ["admin", "creation"], "user-audit-policy-created"),
    "4904": (_IAM_CONF, ["admin", "change"], "security-event-source-added"),
    "4905": (_IAM_CONF, ["admin", "deletion"], "security-event-source-removed"),
    "4906": (_IAM_CONF, ["admin", "change"], "crash-on-audit-changed"),
    "4907": (_IAM_CONF, ["admin", "change"], "audit-setting-changed"),
    "4908": (_IAM_CONF, ["admin", "change"], "special-group-table-changed"),
    "4912": (_IAM_CONF, ["admin", "change"], "per-user-audit-policy-changed"),
    "4950": (_CONF, ["change"], "windows-firewall-setting-changed"),
    "4954": (_CONF, ["change"], "windows-firewall-group-policy-changed"),
    "4964": (_IAM, ["admin", "group"], "logged-in-special"),
    "5024": (["process"], ["start"], "windows-firewall-service-started"),
    "5025": (["process"], ["end"], "windows-firewall-service-stopped"),
    "5033": (["driver"], ["start"], "windows-firewall-driver-started"),
    "5034": (["driver"], ["end"], "windows-firewall-driver-stopped"),
    "5037": (["driver"], ["end"], "windows-firewall-driver-error"),
    "5140": (["network", "file"], ["info", "access"], "network-share-object-accessed"),
    "5145": (["network", "file"], ["info", "access"], "network-share-object-access-checked"),
}

_LOGON_TYPES = {"2": "Interactive", "3": "Network", "4": "Batch", "5": "Service", "7": "Unlock",
                "8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive",
                "11": "CachedInteractive"}  # fmt: skip
_FAILURE_REASONS = {
    "2304": "An Error occured during Logon.",
    "2305": "The specified user account has expired.",
    "2306": "The NetLogon component is not active.",
    "2307": "Account locked out.",
    "2308": "The user has not been granted the requested logon type at this machine.",
    "2309": "The specified account's password has expired.",
    "2310": "Account currently disabled.",
    "2311": "Account logon time restriction violation.",
    "2312": "User not allowed to logon at this computer.",
    "2313": "Unknown user name or bad password.",
    "2314": "Domain sid inconsistent.",
    "2315": "Smartcard logon is required and was not used.",
}
_LOGON_STATUS = {
    "0xc000005e": "There are currently no logon servers available to service the logon request.",
    "0xc0000064": "User logon with misspelled or bad user account",
    "0xc000006a": "User logon with misspelled or bad password",
    "0xc000006d": "This is either due to a bad username or authentication information",
    "0xc000006e": "Unknown user name or bad password.",
    "0xc000006f": "User logon outside authorized hours",
    "0xc0000070": "User logon from unauthorized workstation",
    "0xc0000071": "User logon with expired password",
    "0xc0000072": "User logon to account disabled by administrator",
    "0xc00000dc": "Indicates the Sam Server was in the wrong state to perform the desired "
                  "operation.",
    "0xc0000133": "Clocks between DC and other computer too far out of sync",
    "0xc000015b": "The user has not been granted the requested logon type (aka logon right) at "
                  "this machine",
    "0xc000018c": "The logon request failed because the trust relationship between the primary "
                  "domain and the trusted domain failed.",
    "0xc0000192": "An attempt was made to logon, but the Netlogon service was not started.",
    "0xc0000193": "User logon with expired account",
    "0xc0000224": "User is required to change password at next logon",
    "0xc0000225": "Evidently a bug in Windows and not a risk",
    "0xc0000234": "User logon with account locked",
    "0xc00002ee": "Failure Reason: An Error occurred during Logon",
    "0xc0000413": "Logon Failure: The machine you are logging onto is protected by an "
                  "authentication firewall. The specified account is not allowed to "
                  "authenticate to the machine.",
    "0xc0000371": "The local account store does not contain secret material for the specified "
                  "account",
    "0x0": "Status OK.",
}  # fmt: skip
_SERVICE_TYPES = {
    "0x1": "Kernel Driver", "0x2": "File System Driver", "0x8": "Recognizer Driver",
    "0x10": "Win32 Own Process", "0x20": "Win32 Share Process",
    "0x110": "Interactive Own Process", "0x120": "Interactive Share Process",
}  # fmt: skip

_TARGET_USER_EVENTS = _codes("4624 4625 4634 4647 4648 4768 4769 4770 4771 4776 4964")
_GROUP_EVENTS = _codes(
    "4727 4728 4729 4730 4731 4732 4733 4734 4735 4737 4744 4745 4746 4747 4748 4749 4750 4751 "
    "4752 4753 4754 4755 4756 4757 4758 4759 4760 4761 4762 4763 4764 4799"
)
_SUBJECT_USER_EVENTS = _codes(
    "4657 4670 4672 4673 4674 4688 4689 4697 4698 4699 4700 4701 4702 4706 4707 4713 4716 4717 "
    "4718 4719 4720 4722 4723 4724 4725 4726 4727 4728 4729 4730 4731 4732 4733 4734 4735 4737 "
    "4738 4739 4740 4741 4742 4743 4744 4745 4746 4747 4748 4749 4750 4751 4752 4753 4754 4755 "
    "4756 4757 4758 4759 4760 4761 4762 4763 4764 4767 4781 4798 4799 4817 4904 4905 4907 4912 "
    "4648 5140 5145"
)
_USER_TARGET_EVENTS = _codes(
"4670 4720 4722 4723 4724 4725 4726 4738 4740 4767 4798 4817 "
                                "4907"
)  # fmt: skip
_COMMON_AUTH_EVENTS = _codes(
    "1100 1102 1104 1105 1108 4624 4648 4625 4670 4673 4674 4689 4697 4719 4720 4722 4723 4724 "
    "4725 4726 4727 4728 4729 4730 4731 4732 4733 4734 4735 4737 4738 4740 4741 4742 4743 4744 "
    "4745 4746 4747 4748 4749 4750 4751 4752 4753 4754 4755 4756 4757 4758 4759 4760 4761 4762 "
    "4763 4764 4767 4768 4769 4770 4771 4798 4799 4817 4904 4905 4907 4912 5140 5145"
)
_PRIVILEGE_LIST_EVENTS = _codes("4672 4673 4674 4741 4742 4743")
_TARGET_RELATED_EVENTS = _codes(
"4688 4720 4722 4723 4724 4725 4726 4738 4740 4767 "
                                   "4798"
)  # fmt: skip


def map_security(document: dict[str, Any]) -> None:
    """Apply the Security pipeline to a Winlogbeat document, in place."""
    winlog = document["winlog"]
    if winlog.get("provider_name") in _STANDARD_PROVIDERS:
        _standard(document, winlog)
    source = document.get("source")
    if source and isinstance(source.get("ip"), str):
        source["ip"] = source["ip"].replace("::ffff:", "")
        if source["ip"] != "-":
            _related(document, "ip", source["ip"])


def _standard(document: dict[str, Any], winlog: dict[str, Any]) -> None:
    event = document["event"]
    code = event.get("code", "")
    data: dict[str, Any] = winlog.get("event_data", {})
    if code in _CATEGORIZATION:
        event["category"], event["type"], event["action"] = _CATEGORIZATION[code]
    logon_type = _LOGON_TYPES.get(data.get("LogonType", ""))
    if logon_type:
        winlog.setdefault("logon", {})["type"] = logon_type
    _service(document, data)
    _failure(winlog, data, code)
    if code in ("4778", "4779"):
        _session(document, winlog, data)
    if code in _TARGET_USER_EVENTS:
        _target_user(document, data)
    if code in _GROUP_EVENTS:
        _group(document, data)
    if code in ("4741", "4742", "4743"):
        computer = {key: data[field] for field, key in
                    (("TargetSid", "id"), ("TargetUserName", "name"),
                     ("TargetDomainName", "domain")) if field in data}  # fmt: skip
        if computer:
            winlog["computerObject"] = computer
    if code in ("4634", "4647", "4964") and "TargetLogonId" in data:
        winlog.setdefault("logon", {})["id"] = data["TargetLogonId"]
    if code in _SUBJECT_USER_EVENTS:
        _subject_user(document, data)
    if code in _USER_TARGET_EVENTS:
        _copy_user(document, data, "target", "TargetSid")
    if code in ("4648", "4688"):
        _copy_user(document, data, "effective", "TargetUserSid")
    if code == "1102":
        _subject_user(document, winlog.get("user_data", {}))
    if "SubjectLogonId" in data:
        winlog.setdefault("logon", {})["id"] = data["SubjectLogonId"]
    if code == "1102" and "SubjectLogonId" in winlog.get("user_data", {}):
        winlog.setdefault("logon", {})["id"] = winlog["user_data"]["SubjectLogonId"]
    if code in _COMMON_AUTH_EVENTS:
        _common_auth(document, data)
    if code == "4688":
        _process_created(document, data)
    if code in ("4624", "4648") and data.get("SubjectUserName") not in (None, "-"):
        _related(document, "user", data["SubjectUserName"])
    if code in _TARGET_RELATED_EVENTS and data.get("TargetUserName") not in (None, "-"):
        _related(document, "user", data["TargetUserName"])
    if code in _PRIVILEGE_LIST_EVENTS and isinstance(data.get("PrivilegeList"), str):
        data["PrivilegeList"] = data["PrivilegeList"].split()
    if data.get("OldTargetUserName"):
        document.setdefault("user", {}).setdefault("target", {})["name"] = data[
            "OldTargetUserName"]
    if data.get("NewTargetUserName"):
        document.setdefault("user", {}).setdefault("changes", {})["name"] = data[
            "NewTargetUserName"]
    for field in ("NewTargetUserName", "OldTargetUserName"):
        if data.get(field) not in (None, "-"):
            _related(document, "user", data[field])
    if code in ("5140", "5145"):
        _share(document, data)
    if not data:
        winlog.pop("event_data", None)


def _service(document: dict[str, Any], data: dict[str, Any]) -> None:
    service: dict[str, Any] = {}
    if "ServiceName" in data:
        service["name"] = data["ServiceName"]
    if "ServiceType" in data:
        service["type"] = _SERVICE_TYPES.get(data["ServiceType"])
    if service:
        document["service"] = service


def _failure(winlog: dict[str, Any], data: dict[str, Any], code: str) -> None:
    failure: dict[str, Any] = {}
    reason = _FAILURE_REASONS.get(str(data.get("FailureReason", "")).replace("%%", ""))
    if reason:
        failure["reason"] = reason
    if code in ("4625", "4776") and "Status" in data:
        status = _LOGON_STATUS.get(data["Status"])
        if status:
            failure["status"] = status
        sub_status = _LOGON_STATUS.get(data.get("SubStatus", ""))
        if sub_status:
            failure["sub_status"] = sub_status
    if failure:
        winlog.setdefault("logon", {}).setdefault("failure", {}).update(failure)


def _session(document: dict[str, Any], winlog: dict[str, Any], data: dict[str, Any]) -> None:
    if "AccountName" in data:
        document.setdefault("user", {})["name"] = data["AccountName"]
        _related(document, "user", data["AccountName"])
    if "AccountDomain" in data:
        document.setdefault("user", {})["domain"] = data["AccountDomain"]
    if data.get("ClientAddress") not in (None, "-"):
        document.setdefault("source", {})["ip"] = data["ClientAddress"]
        _related(document, "ip", data["ClientAddress"])
    if "ClientName" in data:
        document.setdefault("source", {})["domain"] = data["ClientName"]
    if "LogonID" in data:
        winlog.setdefault("logon", {})["id"] = data["LogonID"]


def _target_user(document: dict[str, Any], data: dict[str, Any]) -> None:
    """Target user into user.*, or into user.target.* when user.* is already taken."""
    user = document.setdefault("user", {})
    sid = data.get("TargetUserSid", data.get("TargetSid"))
    if sid is not None:
        _user_or_target(user, "id", sid)
    if "TargetUserName" in data:
        name = data["TargetUserName"].split("@")[0]
        _user_or_target(user, "name", name)
        _related(document, "user", name)
    if "TargetDomainName" in data:
        _user_or_target(user, "domain", data["TargetDomainName"])


def _user_or_target(user: dict[str, Any], key: str, value: Any) -> None:
    if key not in user:
        user[key] = value
    else:
        user.setdefault("target", {})[key] = value


def _group(document: dict[str, Any], data: dict[str, Any]) -> None:
    if "MemberName" in data:
        parts = data["MemberName"].split(",")
        name = parts[0].replace("CN=", "").replace("cn=", "")
        target = document.setdefault("user", {}).setdefault("target", {})
        target["name"] = name
        _related(document, "user", name)
        if len(parts) >= 4:
            target["domain"] = parts[3].replace("DC=", "").replace("dc=", "")
    group: dict[str, Any] = {}
    for field in ("TargetUserSid", "TargetSid"):
        if field in data:
            group["id"] = data[field]
    if "TargetUserName" in data:
        group["name"] = data["TargetUserName"]
    if "TargetDomainName" in data:
        group["domain"] = data["TargetDomainName"].replace("DC=", "").replace("dc=", "")
    if group:
        document["group"] = group
    target = document.get("user", {}).get("target")
    if target is not None:
        target["group"] = dict(group)


def _subject_user(document: dict[str, Any], data: dict[str, Any]) -> None:
    if "SubjectUserSid" in data:
        document.setdefault("user", {})["id"] = data["SubjectUserSid"]
    if "SubjectUserName" in data:
        document.setdefault("user", {})["name"] = data["SubjectUserName"]
        _related(document, "user", data["SubjectUserName"])
    if "SubjectDomainName" in data:
        document.setdefault("user", {})["domain"] = data["SubjectDomainName"]


def _copy_user(document: dict[str, Any], data: dict[str, Any], role: str, sid_field: str) -> None:
    """user.target / user.effective from the Target* fields ("-" and "" mean nothing)."""
    copied: dict[str, Any] = {}
    if data.get(sid_field) not in (None, "", "-"):
        copied["id"] = data[sid_field]
    if data.get("TargetUserName") not in (None, "", "-"):
        copied["name"] = data["TargetUserName"].split("@")[0]
        _related(document, "user", copied["name"])
    if data.get("TargetDomainName") not in (None, "", "-"):
        copied["domain"] = data["TargetDomainName"]
    if copied:
        document.setdefault("user", {}).setdefault(role, {}).update(copied)


def _common_auth(document: dict[str, Any], data: dict[str, Any]) -> None:
    process = document.setdefault("process", {})
    if "ProcessId" in data:
        pid = _decode_long(data.pop("ProcessId"))
        if pid is not None:
            process["pid"] = pid
    if "ProcessName" in data:
        process["executable"] = data.pop("ProcessName")
    if data.get("IpAddress") not in (None, "-"):
        document.setdefault("source", {})["ip"] = data.pop("IpAddress")
    if data.get("IpPort") not in (None, "-"):
        port = _decode_long(data.pop("IpPort"))
        if port is not None:
            document.setdefault("source", {})["port"] = port
    if "WorkstationName" in data:
        document.setdefault("source", {})["domain"] = data.pop("WorkstationName")
    if data.get("ClientAddress") not in (None, "-"):
        _related(document, "ip", data.pop("ClientAddress"))
    _add_name(process)
    if not process:
        del document["process"]


def _process_created(document: dict[str, Any], data: dict[str, Any]) -> None:
    process = document.setdefault("process", {})
    if "NewProcessId" in data:
        pid = _decode_long(data.pop("NewProcessId"))
        if pid is not None:
            process["pid"] = pid
    if "NewProcessName" in data:
        process["executable"] = data.pop("NewProcessName")
    if "ParentProcessName" in data:
        process.setdefault("parent", {})["executable"] = data.pop("ParentProcessName")
    _add_name(process)
    if "parent" in process:
        _add_name(process["parent"])
    if "ProcessId" in data:
        parent_pid = _decode_long(data["ProcessId"])
        if parent_pid is not None:
            process.setdefault("parent", {})["pid"] = parent_pid
    if "CommandLine" in data:
        process["args"] = split_on_unquoted_whitespace(data["CommandLine"])
        process["command_line"] = data["CommandLine"]
    if data.get("TargetUserName") not in (None, "-"):
        _related(document, "user", data["TargetUserName"])


def _share(document: dict[str, Any], data: dict[str, Any]) -> None:
    file = document.setdefault("file", {})
    if data.get("RelativeTargetName"):
        file["name"] = data["RelativeTargetName"]
    if data.get("ShareLocalPath"):
        file["directory"] = data["ShareLocalPath"]
    if "name" in file and "directory" in file:
        file["path"] = f"{file['directory']}\\{file['name']}"
    if data.get("ShareName") and "name" in file:
        file["target_path"] = f"{data['ShareName']}\\{file['name']}"
    if "name" in file and "." in file["name"]:
        file["extension"] = file["name"].rpartition(".")[2]
    if not file:
        del document["file"]


def _add_name(process: dict[str, Any]) -> None:
    """process.name: the last backslash-separated part of the executable."""
    executable = process.get("executable")
    if "name" not in process and isinstance(executable, str):
        process["name"] = executable.split("\\")[-1]


def _decode_long(value: Any) -> int | None:
    """Java's Long.decode: decimal, or hexadecimal with 0x."""
    text = str(value).strip()
    try:
        return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)
    except ValueError:
        return None


def _related(document: dict[str, Any], key: str, value: str) -> None:
    values = document.setdefault("related", {}).setdefault(key, [])
    if value not in values:
        values.append(value)
