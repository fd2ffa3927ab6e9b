# mypy: disable-error-code="type-arg"
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ADVEncryptionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    E2EE: _ClassVar[ADVEncryptionType]
    HOSTED: _ClassVar[ADVEncryptionType]
E2EE: ADVEncryptionType
HOSTED: ADVEncryptionType

class HandshakeMessage(_message.Message):
    __slots__ = ("client_hello", "server_hello", "client_finish")
    class ClientHello(_message.Message):
        __slots__ = ("ephemeral", "static", "payload", "use_extended", "extended_ciphertext")
        EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
        STATIC_FIELD_NUMBER: _ClassVar[int]
        PAYLOAD_FIELD_NUMBER: _ClassVar[int]
        USE_EXTENDED_FIELD_NUMBER: _ClassVar[int]
        EXTENDED_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
        ephemeral: bytes
        static: bytes
        payload: bytes
        use_extended: bool
        extended_ciphertext: bytes
        def __init__(self, ephemeral: _Optional[bytes] = ..., static: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., use_extended: _Optional[bool] = ..., extended_ciphertext: _Optional[bytes] = ...) -> None: ...
    class ServerHello(_message.Message):
        __slots__ = ("ephemeral", "static", "payload", "extended_static")
        EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
        STATIC_FIELD_NUMBER: _ClassVar[int]
        PAYLOAD_FIELD_NUMBER: _ClassVar[int]
        EXTENDED_STATIC_FIELD_NUMBER: _ClassVar[int]
        ephemeral: bytes
        static: bytes
        payload: bytes
        extended_static: bytes
        def __init__(self, ephemeral: _Optional[bytes] = ..., static: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., extended_static: _Optional[bytes] = ...) -> None: ...
    class ClientFinish(_message.Message):
        __slots__ = ("static", "payload", "extended_ciphertext")
        STATIC_FIELD_NUMBER: _ClassVar[int]
        PAYLOAD_FIELD_NUMBER: _ClassVar[int]
        EXTENDED_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
        static: bytes
        payload: bytes
        extended_ciphertext: bytes
        def __init__(self, static: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., extended_ciphertext: _Optional[bytes] = ...) -> None: ...
    CLIENT_HELLO_FIELD_NUMBER: _ClassVar[int]
    SERVER_HELLO_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FINISH_FIELD_NUMBER: _ClassVar[int]
    client_hello: HandshakeMessage.ClientHello
    server_hello: HandshakeMessage.ServerHello
    client_finish: HandshakeMessage.ClientFinish
    def __init__(self, client_hello: _Optional[_Union[HandshakeMessage.ClientHello, _Mapping]] = ..., server_hello: _Optional[_Union[HandshakeMessage.ServerHello, _Mapping]] = ..., client_finish: _Optional[_Union[HandshakeMessage.ClientFinish, _Mapping]] = ...) -> None: ...

class CertChain(_message.Message):
    __slots__ = ("leaf", "intermediate")
    class NoiseCertificate(_message.Message):
        __slots__ = ("details", "signature")
        class Details(_message.Message):
            __slots__ = ("serial", "issuer_serial", "key", "not_before", "not_after")
            SERIAL_FIELD_NUMBER: _ClassVar[int]
            ISSUER_SERIAL_FIELD_NUMBER: _ClassVar[int]
            KEY_FIELD_NUMBER: _ClassVar[int]
            NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
            NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
            serial: int
            issuer_serial: int
            key: bytes
            not_before: int
            not_after: int
            def __init__(self, serial: _Optional[int] = ..., issuer_serial: _Optional[int] = ..., key: _Optional[bytes] = ..., not_before: _Optional[int] = ..., not_after: _Optional[int] = ...) -> None: ...
        DETAILS_FIELD_NUMBER: _ClassVar[int]
        SIGNATURE_FIELD_NUMBER: _ClassVar[int]
        details: bytes
        signature: bytes
        def __init__(self, details: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...
    LEAF_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_FIELD_NUMBER: _ClassVar[int]
    leaf: CertChain.NoiseCertificate
    intermediate: CertChain.NoiseCertificate
    def __init__(self, leaf: _Optional[_Union[CertChain.NoiseCertificate, _Mapping]] = ..., intermediate: _Optional[_Union[CertChain.NoiseCertificate, _Mapping]] = ...) -> None: ...

class ClientPayload(_message.Message):
    __slots__ = ("username", "passive", "user_agent", "web_info", "push_name", "session_id", "short_connect", "connect_type", "connect_reason", "shards", "dns_source", "connect_attempt_count", "device", "device_pairing_data", "product", "fb_cat", "fb_user_agent", "oc", "lc", "ios_app_extension", "fb_app_id", "fb_device_id", "pull", "padding_bytes", "year_class", "mem_class", "interop_data", "traffic_anonymization", "lid_db_migrated", "account_type", "connection_sequence_info", "paa_link", "preacks_count", "processing_queue_size")
    class ConnectType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CELLULAR_UNKNOWN: _ClassVar[ClientPayload.ConnectType]
        WIFI_UNKNOWN: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_EDGE: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_IDEN: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_UMTS: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_EVDO: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_GPRS: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_HSDPA: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_HSUPA: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_HSPA: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_CDMA: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_1XRTT: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_EHRPD: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_LTE: _ClassVar[ClientPayload.ConnectType]
        CELLULAR_HSPAP: _ClassVar[ClientPayload.ConnectType]
    CELLULAR_UNKNOWN: ClientPayload.ConnectType
    WIFI_UNKNOWN: ClientPayload.ConnectType
    CELLULAR_EDGE: ClientPayload.ConnectType
    CELLULAR_IDEN: ClientPayload.ConnectType
    CELLULAR_UMTS: ClientPayload.ConnectType
    CELLULAR_EVDO: ClientPayload.ConnectType
    CELLULAR_GPRS: ClientPayload.ConnectType
    CELLULAR_HSDPA: ClientPayload.ConnectType
    CELLULAR_HSUPA: ClientPayload.ConnectType
    CELLULAR_HSPA: ClientPayload.ConnectType
    CELLULAR_CDMA: ClientPayload.ConnectType
    CELLULAR_1XRTT: ClientPayload.ConnectType
    CELLULAR_EHRPD: ClientPayload.ConnectType
    CELLULAR_LTE: ClientPayload.ConnectType
    CELLULAR_HSPAP: ClientPayload.ConnectType
    class ConnectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PUSH: _ClassVar[ClientPayload.ConnectReason]
        USER_ACTIVATED: _ClassVar[ClientPayload.ConnectReason]
        SCHEDULED: _ClassVar[ClientPayload.ConnectReason]
        ERROR_RECONNECT: _ClassVar[ClientPayload.ConnectReason]
        NETWORK_SWITCH: _ClassVar[ClientPayload.ConnectReason]
        PING_RECONNECT: _ClassVar[ClientPayload.ConnectReason]
        UNKNOWN: _ClassVar[ClientPayload.ConnectReason]
    PUSH: ClientPayload.ConnectReason
    USER_ACTIVATED: ClientPayload.ConnectReason
    SCHEDULED: ClientPayload.ConnectReason
    ERROR_RECONNECT: ClientPayload.ConnectReason
    NETWORK_SWITCH: ClientPayload.ConnectReason
    PING_RECONNECT: ClientPayload.ConnectReason
    UNKNOWN: ClientPayload.ConnectReason
    class Product(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        WHATSAPP: _ClassVar[ClientPayload.Product]
        MESSENGER: _ClassVar[ClientPayload.Product]
        INTEROP: _ClassVar[ClientPayload.Product]
        INTEROP_MSGR: _ClassVar[ClientPayload.Product]
        WHATSAPP_LID: _ClassVar[ClientPayload.Product]
    WHATSAPP: ClientPayload.Product
    MESSENGER: ClientPayload.Product
    INTEROP: ClientPayload.Product
    INTEROP_MSGR: ClientPayload.Product
    WHATSAPP_LID: ClientPayload.Product
    class IOSAppExtension(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SHARE_EXTENSION: _ClassVar[ClientPayload.IOSAppExtension]
        SERVICE_EXTENSION: _ClassVar[ClientPayload.IOSAppExtension]
        INTENTS_EXTENSION: _ClassVar[ClientPayload.IOSAppExtension]
    SHARE_EXTENSION: ClientPayload.IOSAppExtension
    SERVICE_EXTENSION: ClientPayload.IOSAppExtension
    INTENTS_EXTENSION: ClientPayload.IOSAppExtension
    class TrafficAnonymization(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OFF: _ClassVar[ClientPayload.TrafficAnonymization]
        STANDARD: _ClassVar[ClientPayload.TrafficAnonymization]
    OFF: ClientPayload.TrafficAnonymization
    STANDARD: ClientPayload.TrafficAnonymization
    class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DEFAULT: _ClassVar[ClientPayload.AccountType]
        GUEST: _ClassVar[ClientPayload.AccountType]
    DEFAULT: ClientPayload.AccountType
    GUEST: ClientPayload.AccountType
    class UserAgent(_message.Message):
        __slots__ = ("platform", "app_version", "mcc", "mnc", "os_version", "manufacturer", "device", "os_build_number", "phone_id", "release_channel", "locale_language_iso6391", "locale_country_iso31661_alpha2", "device_board", "device_exp_id", "device_type", "device_model_type")
        class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            IOS: _ClassVar[ClientPayload.UserAgent.Platform]
            WINDOWS_PHONE: _ClassVar[ClientPayload.UserAgent.Platform]
            BLACKBERRY: _ClassVar[ClientPayload.UserAgent.Platform]
            BLACKBERRYX: _ClassVar[ClientPayload.UserAgent.Platform]
            S40: _ClassVar[ClientPayload.UserAgent.Platform]
            S60: _ClassVar[ClientPayload.UserAgent.Platform]
            PYTHON_CLIENT: _ClassVar[ClientPayload.UserAgent.Platform]
            TIZEN: _ClassVar[ClientPayload.UserAgent.Platform]
            ENTERPRISE: _ClassVar[ClientPayload.UserAgent.Platform]
            SMB_ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            KAIOS: _ClassVar[ClientPayload.UserAgent.Platform]
            SMB_IOS: _ClassVar[ClientPayload.UserAgent.Platform]
            WINDOWS: _ClassVar[ClientPayload.UserAgent.Platform]
            WEB: _ClassVar[ClientPayload.UserAgent.Platform]
            PORTAL: _ClassVar[ClientPayload.UserAgent.Platform]
            GREEN_ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            GREEN_IPHONE: _ClassVar[ClientPayload.UserAgent.Platform]
            BLUE_ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            BLUE_IPHONE: _ClassVar[ClientPayload.UserAgent.Platform]
            FBLITE_ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            MLITE_ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            IGLITE_ANDROID: _ClassVar[ClientPayload.UserAgent.Platform]
            PAGE: _ClassVar[ClientPayload.UserAgent.Platform]
            MACOS: _ClassVar[ClientPayload.UserAgent.Platform]
            OCULUS_MSG: _ClassVar[ClientPayload.UserAgent.Platform]
            OCULUS_CALL: _ClassVar[ClientPayload.UserAgent.Platform]
            MILAN: _ClassVar[ClientPayload.UserAgent.Platform]
            CAPI: _ClassVar[ClientPayload.UserAgent.Platform]
            WEAROS: _ClassVar[ClientPayload.UserAgent.Platform]
            ARDEVICE: _ClassVar[ClientPayload.UserAgent.Platform]
            VRDEVICE: _ClassVar[ClientPayload.UserAgent.Platform]
            BLUE_WEB: _ClassVar[ClientPayload.UserAgent.Platform]
            IPAD: _ClassVar[ClientPayload.UserAgent.Platform]
            TEST: _ClassVar[ClientPayload.UserAgent.Platform]
            SMART_GLASSES: _ClassVar[ClientPayload.UserAgent.Platform]
            BLUE_VR: _ClassVar[ClientPayload.UserAgent.Platform]
            AR_WRIST: _ClassVar[ClientPayload.UserAgent.Platform]
        ANDROID: ClientPayload.UserAgent.Platform
        IOS: ClientPayload.UserAgent.Platform
        WINDOWS_PHONE: ClientPayload.UserAgent.Platform
        BLACKBERRY: ClientPayload.UserAgent.Platform
        BLACKBERRYX: ClientPayload.UserAgent.Platform
        S40: ClientPayload.UserAgent.Platform
        S60: ClientPayload.UserAgent.Platform
        PYTHON_CLIENT: ClientPayload.UserAgent.Platform
        TIZEN: ClientPayload.UserAgent.Platform
        ENTERPRISE: ClientPayload.UserAgent.Platform
        SMB_ANDROID: ClientPayload.UserAgent.Platform
        KAIOS: ClientPayload.UserAgent.Platform
        SMB_IOS: ClientPayload.UserAgent.Platform
        WINDOWS: ClientPayload.UserAgent.Platform
        WEB: ClientPayload.UserAgent.Platform
        PORTAL: ClientPayload.UserAgent.Platform
        GREEN_ANDROID: ClientPayload.UserAgent.Platform
        GREEN_IPHONE: ClientPayload.UserAgent.Platform
        BLUE_ANDROID: ClientPayload.UserAgent.Platform
        BLUE_IPHONE: ClientPayload.UserAgent.Platform
        FBLITE_ANDROID: ClientPayload.UserAgent.Platform
        MLITE_ANDROID: ClientPayload.UserAgent.Platform
        IGLITE_ANDROID: ClientPayload.UserAgent.Platform
        PAGE: ClientPayload.UserAgent.Platform
        MACOS: ClientPayload.UserAgent.Platform
        OCULUS_MSG: ClientPayload.UserAgent.Platform
        OCULUS_CALL: ClientPayload.UserAgent.Platform
        MILAN: ClientPayload.UserAgent.Platform
        CAPI: ClientPayload.UserAgent.Platform
        WEAROS: ClientPayload.UserAgent.Platform
        ARDEVICE: ClientPayload.UserAgent.Platform
        VRDEVICE: ClientPayload.UserAgent.Platform
        BLUE_WEB: ClientPayload.UserAgent.Platform
        IPAD: ClientPayload.UserAgent.Platform
        TEST: ClientPayload.UserAgent.Platform
        SMART_GLASSES: ClientPayload.UserAgent.Platform
        BLUE_VR: ClientPayload.UserAgent.Platform
        AR_WRIST: ClientPayload.UserAgent.Platform
        class ReleaseChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            RELEASE: _ClassVar[ClientPayload.UserAgent.ReleaseChannel]
            BETA: _ClassVar[ClientPayload.UserAgent.ReleaseChannel]
            ALPHA: _ClassVar[ClientPayload.UserAgent.ReleaseChannel]
            DEBUG: _ClassVar[ClientPayload.UserAgent.ReleaseChannel]
        RELEASE: ClientPayload.UserAgent.ReleaseChannel
        BETA: ClientPayload.UserAgent.ReleaseChannel
        ALPHA: ClientPayload.UserAgent.ReleaseChannel
        DEBUG: ClientPayload.UserAgent.ReleaseChannel
        class DeviceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            PHONE: _ClassVar[ClientPayload.UserAgent.DeviceType]
            TABLET: _ClassVar[ClientPayload.UserAgent.DeviceType]
            DESKTOP: _ClassVar[ClientPayload.UserAgent.DeviceType]
            WEARABLE: _ClassVar[ClientPayload.UserAgent.DeviceType]
            VR: _ClassVar[ClientPayload.UserAgent.DeviceType]
        PHONE: ClientPayload.UserAgent.DeviceType
        TABLET: ClientPayload.UserAgent.DeviceType
        DESKTOP: ClientPayload.UserAgent.DeviceType
        WEARABLE: ClientPayload.UserAgent.DeviceType
        VR: ClientPayload.UserAgent.DeviceType
        class AppVersion(_message.Message):
            __slots__ = ("primary", "secondary", "tertiary", "quaternary", "quinary")
            PRIMARY_FIELD_NUMBER: _ClassVar[int]
            SECONDARY_FIELD_NUMBER: _ClassVar[int]
            TERTIARY_FIELD_NUMBER: _ClassVar[int]
            QUATERNARY_FIELD_NUMBER: _ClassVar[int]
            QUINARY_FIELD_NUMBER: _ClassVar[int]
            primary: int
            secondary: int
            tertiary: int
            quaternary: int
            quinary: int
            def __init__(self, primary: _Optional[int] = ..., secondary: _Optional[int] = ..., tertiary: _Optional[int] = ..., quaternary: _Optional[int] = ..., quinary: _Optional[int] = ...) -> None: ...
        PLATFORM_FIELD_NUMBER: _ClassVar[int]
        APP_VERSION_FIELD_NUMBER: _ClassVar[int]
        MCC_FIELD_NUMBER: _ClassVar[int]
        MNC_FIELD_NUMBER: _ClassVar[int]
        OS_VERSION_FIELD_NUMBER: _ClassVar[int]
        MANUFACTURER_FIELD_NUMBER: _ClassVar[int]
        DEVICE_FIELD_NUMBER: _ClassVar[int]
        OS_BUILD_NUMBER_FIELD_NUMBER: _ClassVar[int]
        PHONE_ID_FIELD_NUMBER: _ClassVar[int]
        RELEASE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
        LOCALE_LANGUAGE_ISO6391_FIELD_NUMBER: _ClassVar[int]
        LOCALE_COUNTRY_ISO31661_ALPHA2_FIELD_NUMBER: _ClassVar[int]
        DEVICE_BOARD_FIELD_NUMBER: _ClassVar[int]
        DEVICE_EXP_ID_FIELD_NUMBER: _ClassVar[int]
        DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
        DEVICE_MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
        platform: ClientPayload.UserAgent.Platform
        app_version: ClientPayload.UserAgent.AppVersion
        mcc: str
        mnc: str
        os_version: str
        manufacturer: str
        device: str
        os_build_number: str
        phone_id: str
        release_channel: ClientPayload.UserAgent.ReleaseChannel
        locale_language_iso6391: str
        locale_country_iso31661_alpha2: str
        device_board: str
        device_exp_id: str
        device_type: ClientPayload.UserAgent.DeviceType
        device_model_type: str
        def __init__(self, platform: _Optional[_Union[ClientPayload.UserAgent.Platform, str]] = ..., app_version: _Optional[_Union[ClientPayload.UserAgent.AppVersion, _Mapping]] = ..., mcc: _Optional[str] = ..., mnc: _Optional[str] = ..., os_version: _Optional[str] = ..., manufacturer: _Optional[str] = ..., device: _Optional[str] = ..., os_build_number: _Optional[str] = ..., phone_id: _Optional[str] = ..., release_channel: _Optional[_Union[ClientPayload.UserAgent.ReleaseChannel, str]] = ..., locale_language_iso6391: _Optional[str] = ..., locale_country_iso31661_alpha2: _Optional[str] = ..., device_board: _Optional[str] = ..., device_exp_id: _Optional[str] = ..., device_type: _Optional[_Union[ClientPayload.UserAgent.DeviceType, str]] = ..., device_model_type: _Optional[str] = ...) -> None: ...
    class WebInfo(_message.Message):
        __slots__ = ("ref_token", "version", "webd_payload", "web_sub_platform")
        class WebSubPlatform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            WEB_BROWSER: _ClassVar[ClientPayload.WebInfo.WebSubPlatform]
            APP_STORE: _ClassVar[ClientPayload.WebInfo.WebSubPlatform]
            WIN_STORE: _ClassVar[ClientPayload.WebInfo.WebSubPlatform]
            DARWIN: _ClassVar[ClientPayload.WebInfo.WebSubPlatform]
            WIN32: _ClassVar[ClientPayload.WebInfo.WebSubPlatform]
            WIN_HYBRID: _ClassVar[ClientPayload.WebInfo.WebSubPlatform]
        WEB_BROWSER: ClientPayload.WebInfo.WebSubPlatform
        APP_STORE: ClientPayload.WebInfo.WebSubPlatform
        WIN_STORE: ClientPayload.WebInfo.WebSubPlatform
        DARWIN: ClientPayload.WebInfo.WebSubPlatform
        WIN32: ClientPayload.WebInfo.WebSubPlatform
        WIN_HYBRID: ClientPayload.WebInfo.WebSubPlatform
        class WebdPayload(_message.Message):
            __slots__ = ("uses_participant_in_key", "supports_starred_messages", "supports_document_messages", "supports_url_messages", "supports_media_retry", "supports_e2e_image", "supports_e2e_video", "supports_e2e_audio", "supports_e2e_document", "document_types", "features")
            USES_PARTICIPANT_IN_KEY_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_STARRED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_DOCUMENT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_URL_MESSAGES_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_MEDIA_RETRY_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_E2E_IMAGE_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_E2E_VIDEO_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_E2E_AUDIO_FIELD_NUMBER: _ClassVar[int]
            SUPPORTS_E2E_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
            DOCUMENT_TYPES_FIELD_NUMBER: _ClassVar[int]
            FEATURES_FIELD_NUMBER: _ClassVar[int]
            uses_participant_in_key: bool
            supports_starred_messages: bool
            supports_document_messages: bool
            supports_url_messages: bool
            supports_media_retry: bool
            supports_e2e_image: bool
            supports_e2e_video: bool
            supports_e2e_audio: bool
            supports_e2e_document: bool
            document_types: str
            features: bytes
            def __init__(self, uses_participant_in_key: _Optional[bool] = ..., supports_starred_messages: _Optional[bool] = ..., supports_document_messages: _Optional[bool] = ..., supports_url_messages: _Optional[bool] = ..., supports_media_retry: _Optional[bool] = ..., supports_e2e_image: _Optional[bool] = ..., supports_e2e_video: _Optional[bool] = ..., supports_e2e_audio: _Optional[bool] = ..., supports_e2e_document: _Optional[bool] = ..., document_types: _Optional[str] = ..., features: _Optional[bytes] = ...) -> None: ...
        REF_TOKEN_FIELD_NUMBER: _ClassVar[int]
        VERSION_FIELD_NUMBER: _ClassVar[int]
        WEBD_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
        WEB_SUB_PLATFORM_FIELD_NUMBER: _ClassVar[int]
        ref_token: str
        version: str
        webd_payload: ClientPayload.WebInfo.WebdPayload
        web_sub_platform: ClientPayload.WebInfo.WebSubPlatform
        def __init__(self, ref_token: _Optional[str] = ..., version: _Optional[str] = ..., webd_payload: _Optional[_Union[ClientPayload.WebInfo.WebdPayload, _Mapping]] = ..., web_sub_platform: _Optional[_Union[ClientPayload.WebInfo.WebSubPlatform, str]] = ...) -> None: ...
    class DNSSource(_message.Message):
        __slots__ = ("dns_method", "app_cached")
        class DNSResolutionMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            SYSTEM: _ClassVar[ClientPayload.DNSSource.DNSResolutionMethod]
            GOOGLE: _ClassVar[ClientPayload.DNSSource.DNSResolutionMethod]
            HARDCODED: _ClassVar[ClientPayload.DNSSource.DNSResolutionMethod]
            OVERRIDE: _ClassVar[ClientPayload.DNSSource.DNSResolutionMethod]
            FALLBACK: _ClassVar[ClientPayload.DNSSource.DNSResolutionMethod]
            MNS: _ClassVar[ClientPayload.DNSSource.DNSResolutionMethod]
        SYSTEM: ClientPayload.DNSSource.DNSResolutionMethod
        GOOGLE: ClientPayload.DNSSource.DNSResolutionMethod
        HARDCODED: ClientPayload.DNSSource.DNSResolutionMethod
        OVERRIDE: ClientPayload.DNSSource.DNSResolutionMethod
        FALLBACK: ClientPayload.DNSSource.DNSResolutionMethod
        MNS: ClientPayload.DNSSource.DNSResolutionMethod
        DNS_METHOD_FIELD_NUMBER: _ClassVar[int]
        APP_CACHED_FIELD_NUMBER: _ClassVar[int]
        dns_method: ClientPayload.DNSSource.DNSResolutionMethod
        app_cached: bool
        def __init__(self, dns_method: _Optional[_Union[ClientPayload.DNSSource.DNSResolutionMethod, str]] = ..., app_cached: _Optional[bool] = ...) -> None: ...
    class DevicePairingRegistrationData(_message.Message):
        __slots__ = ("e_regid", "e_keytype", "e_ident", "e_skey_id", "e_skey_val", "e_skey_sig", "build_hash", "device_props")
        E_REGID_FIELD_NUMBER: _ClassVar[int]
        E_KEYTYPE_FIELD_NUMBER: _ClassVar[int]
        E_IDENT_FIELD_NUMBER: _ClassVar[int]
        E_SKEY_ID_FIELD_NUMBER: _ClassVar[int]
        E_SKEY_VAL_FIELD_NUMBER: _ClassVar[int]
        E_SKEY_SIG_FIELD_NUMBER: _ClassVar[int]
        BUILD_HASH_FIELD_NUMBER: _ClassVar[int]
        DEVICE_PROPS_FIELD_NUMBER: _ClassVar[int]
        e_regid: bytes
        e_keytype: bytes
        e_ident: bytes
        e_skey_id: bytes
        e_skey_val: bytes
        e_skey_sig: bytes
        build_hash: bytes
        device_props: bytes
        def __init__(self, e_regid: _Optional[bytes] = ..., e_keytype: _Optional[bytes] = ..., e_ident: _Optional[bytes] = ..., e_skey_id: _Optional[bytes] = ..., e_skey_val: _Optional[bytes] = ..., e_skey_sig: _Optional[bytes] = ..., build_hash: _Optional[bytes] = ..., device_props: _Optional[bytes] = ...) -> None: ...
    class InteropData(_message.Message):
        __slots__ = ("account_id", "token", "enable_read_receipts")
        ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
        TOKEN_FIELD_NUMBER: _ClassVar[int]
        ENABLE_READ_RECEIPTS_FIELD_NUMBER: _ClassVar[int]
        account_id: int
        token: bytes
        enable_read_receipts: bool
        def __init__(self, account_id: _Optional[int] = ..., token: _Optional[bytes] = ..., enable_read_receipts: _Optional[bool] = ...) -> None: ...
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSIVE_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    WEB_INFO_FIELD_NUMBER: _ClassVar[int]
    PUSH_NAME_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHORT_CONNECT_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECT_REASON_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    DNS_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONNECT_ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_PAIRING_DATA_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    FB_CAT_FIELD_NUMBER: _ClassVar[int]
    FB_USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    OC_FIELD_NUMBER: _ClassVar[int]
    LC_FIELD_NUMBER: _ClassVar[int]
    IOS_APP_EXTENSION_FIELD_NUMBER: _ClassVar[int]
    FB_APP_ID_FIELD_NUMBER: _ClassVar[int]
    FB_DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PULL_FIELD_NUMBER: _ClassVar[int]
    PADDING_BYTES_FIELD_NUMBER: _ClassVar[int]
    YEAR_CLASS_FIELD_NUMBER: _ClassVar[int]
    MEM_CLASS_FIELD_NUMBER: _ClassVar[int]
    INTEROP_DATA_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_ANONYMIZATION_FIELD_NUMBER: _ClassVar[int]
    LID_DB_MIGRATED_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_SEQUENCE_INFO_FIELD_NUMBER: _ClassVar[int]
    PAA_LINK_FIELD_NUMBER: _ClassVar[int]
    PREACKS_COUNT_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    username: int
    passive: bool
    user_agent: ClientPayload.UserAgent
    web_info: ClientPayload.WebInfo
    push_name: str
    session_id: int
    short_connect: bool
    connect_type: ClientPayload.ConnectType
    connect_reason: ClientPayload.ConnectReason
    shards: _containers.RepeatedScalarFieldContainer[int]
    dns_source: ClientPayload.DNSSource
    connect_attempt_count: int
    device: int
    device_pairing_data: ClientPayload.DevicePairingRegistrationData
    product: ClientPayload.Product
    fb_cat: bytes
    fb_user_agent: bytes
    oc: bool
    lc: int
    ios_app_extension: ClientPayload.IOSAppExtension
    fb_app_id: int
    fb_device_id: bytes
    pull: bool
    padding_bytes: bytes
    year_class: int
    mem_class: int
    interop_data: ClientPayload.InteropData
    traffic_anonymization: ClientPayload.TrafficAnonymization
    lid_db_migrated: bool
    account_type: ClientPayload.AccountType
    connection_sequence_info: int
    paa_link: bool
    preacks_count: int
    processing_queue_size: int
    def __init__(self, username: _Optional[int] = ..., passive: _Optional[bool] = ..., user_agent: _Optional[_Union[ClientPayload.UserAgent, _Mapping]] = ..., web_info: _Optional[_Union[ClientPayload.WebInfo, _Mapping]] = ..., push_name: _Optional[str] = ..., session_id: _Optional[int] = ..., short_connect: _Optional[bool] = ..., connect_type: _Optional[_Union[ClientPayload.ConnectType, str]] = ..., connect_reason: _Optional[_Union[ClientPayload.ConnectReason, str]] = ..., shards: _Optional[_Iterable[int]] = ..., dns_source: _Optional[_Union[ClientPayload.DNSSource, _Mapping]] = ..., connect_attempt_count: _Optional[int] = ..., device: _Optional[int] = ..., device_pairing_data: _Optional[_Union[ClientPayload.DevicePairingRegistrationData, _Mapping]] = ..., product: _Optional[_Union[ClientPayload.Product, str]] = ..., fb_cat: _Optional[bytes] = ..., fb_user_agent: _Optional[bytes] = ..., oc: _Optional[bool] = ..., lc: _Optional[int] = ..., ios_app_extension: _Optional[_Union[ClientPayload.IOSAppExtension, str]] = ..., fb_app_id: _Optional[int] = ..., fb_device_id: _Optional[bytes] = ..., pull: _Optional[bool] = ..., padding_bytes: _Optional[bytes] = ..., year_class: _Optional[int] = ..., mem_class: _Optional[int] = ..., interop_data: _Optional[_Union[ClientPayload.InteropData, _Mapping]] = ..., traffic_anonymization: _Optional[_Union[ClientPayload.TrafficAnonymization, str]] = ..., lid_db_migrated: _Optional[bool] = ..., account_type: _Optional[_Union[ClientPayload.AccountType, str]] = ..., connection_sequence_info: _Optional[int] = ..., paa_link: _Optional[bool] = ..., preacks_count: _Optional[int] = ..., processing_queue_size: _Optional[int] = ...) -> None: ...

class DeviceProps(_message.Message):
    __slots__ = ("os", "version", "platform_type", "require_full_sync", "history_sync_config")
    class PlatformType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[DeviceProps.PlatformType]
        CHROME: _ClassVar[DeviceProps.PlatformType]
        FIREFOX: _ClassVar[DeviceProps.PlatformType]
        IE: _ClassVar[DeviceProps.PlatformType]
        OPERA: _ClassVar[DeviceProps.PlatformType]
        SAFARI: _ClassVar[DeviceProps.PlatformType]
        EDGE: _ClassVar[DeviceProps.PlatformType]
        DESKTOP: _ClassVar[DeviceProps.PlatformType]
        IPAD: _ClassVar[DeviceProps.PlatformType]
        ANDROID_TABLET: _ClassVar[DeviceProps.PlatformType]
        OHANA: _ClassVar[DeviceProps.PlatformType]
        ALOHA: _ClassVar[DeviceProps.PlatformType]
        CATALINA: _ClassVar[DeviceProps.PlatformType]
        TCL_TV: _ClassVar[DeviceProps.PlatformType]
        IOS_PHONE: _ClassVar[DeviceProps.PlatformType]
        IOS_CATALYST: _ClassVar[DeviceProps.PlatformType]
        ANDROID_PHONE: _ClassVar[DeviceProps.PlatformType]
        ANDROID_AMBIGUOUS: _ClassVar[DeviceProps.PlatformType]
        WEAR_OS: _ClassVar[DeviceProps.PlatformType]
        AR_WRIST: _ClassVar[DeviceProps.PlatformType]
        AR_DEVICE: _ClassVar[DeviceProps.PlatformType]
        UWP: _ClassVar[DeviceProps.PlatformType]
        VR: _ClassVar[DeviceProps.PlatformType]
        CLOUD_API: _ClassVar[DeviceProps.PlatformType]
        SMARTGLASSES: _ClassVar[DeviceProps.PlatformType]
    UNKNOWN: DeviceProps.PlatformType
    CHROME: DeviceProps.PlatformType
    FIREFOX: DeviceProps.PlatformType
    IE: DeviceProps.PlatformType
    OPERA: DeviceProps.PlatformType
    SAFARI: DeviceProps.PlatformType
    EDGE: DeviceProps.PlatformType
    DESKTOP: DeviceProps.PlatformType
    IPAD: DeviceProps.PlatformType
    ANDROID_TABLET: DeviceProps.PlatformType
    OHANA: DeviceProps.PlatformType
    ALOHA: DeviceProps.PlatformType
    CATALINA: DeviceProps.PlatformType
    TCL_TV: DeviceProps.PlatformType
    IOS_PHONE: DeviceProps.PlatformType
    IOS_CATALYST: DeviceProps.PlatformType
    ANDROID_PHONE: DeviceProps.PlatformType
    ANDROID_AMBIGUOUS: DeviceProps.PlatformType
    WEAR_OS: DeviceProps.PlatformType
    AR_WRIST: DeviceProps.PlatformType
    AR_DEVICE: DeviceProps.PlatformType
    UWP: DeviceProps.PlatformType
    VR: DeviceProps.PlatformType
    CLOUD_API: DeviceProps.PlatformType
    SMARTGLASSES: DeviceProps.PlatformType
    class AppVersion(_message.Message):
        __slots__ = ("primary", "secondary", "tertiary", "quaternary", "quinary")
        PRIMARY_FIELD_NUMBER: _ClassVar[int]
        SECONDARY_FIELD_NUMBER: _ClassVar[int]
        TERTIARY_FIELD_NUMBER: _ClassVar[int]
        QUATERNARY_FIELD_NUMBER: _ClassVar[int]
        QUINARY_FIELD_NUMBER: _ClassVar[int]
        primary: int
        secondary: int
        tertiary: int
        quaternary: int
        quinary: int
        def __init__(self, primary: _Optional[int] = ..., secondary: _Optional[int] = ..., tertiary: _Optional[int] = ..., quaternary: _Optional[int] = ..., quinary: _Optional[int] = ...) -> None: ...
    class HistorySyncConfig(_message.Message):
        __slots__ = ("full_sync_days_limit", "full_sync_size_mb_limit", "storage_quota_mb", "inline_initial_payload_in_e2ee_msg", "recent_sync_days_limit", "support_call_log_history", "support_bot_user_agent_chat_history", "support_cag_reactions_and_polls", "support_biz_hosted_msg", "support_recent_sync_chunk_message_count_tuning", "support_hosted_group_msg", "support_fbid_bot_chat_history", "support_add_on_history_sync_migration", "support_message_association", "support_group_history", "on_demand_ready", "support_guest_chat", "complete_on_demand_ready", "thumbnail_sync_days_limit")
        FULL_SYNC_DAYS_LIMIT_FIELD_NUMBER: _ClassVar[int]
        FULL_SYNC_SIZE_MB_LIMIT_FIELD_NUMBER: _ClassVar[int]
        STORAGE_QUOTA_MB_FIELD_NUMBER: _ClassVar[int]
        INLINE_INITIAL_PAYLOAD_IN_E2EE_MSG_FIELD_NUMBER: _ClassVar[int]
        RECENT_SYNC_DAYS_LIMIT_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_CALL_LOG_HISTORY_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_BOT_USER_AGENT_CHAT_HISTORY_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_CAG_REACTIONS_AND_POLLS_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_BIZ_HOSTED_MSG_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_RECENT_SYNC_CHUNK_MESSAGE_COUNT_TUNING_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_HOSTED_GROUP_MSG_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_FBID_BOT_CHAT_HISTORY_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_ADD_ON_HISTORY_SYNC_MIGRATION_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_MESSAGE_ASSOCIATION_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_GROUP_HISTORY_FIELD_NUMBER: _ClassVar[int]
        ON_DEMAND_READY_FIELD_NUMBER: _ClassVar[int]
        SUPPORT_GUEST_CHAT_FIELD_NUMBER: _ClassVar[int]
        COMPLETE_ON_DEMAND_READY_FIELD_NUMBER: _ClassVar[int]
        THUMBNAIL_SYNC_DAYS_LIMIT_FIELD_NUMBER: _ClassVar[int]
        full_sync_days_limit: int
        full_sync_size_mb_limit: int
        storage_quota_mb: int
        inline_initial_payload_in_e2ee_msg: bool
        recent_sync_days_limit: int
        support_call_log_history: bool
        support_bot_user_agent_chat_history: bool
        support_cag_reactions_and_polls: bool
        support_biz_hosted_msg: bool
        support_recent_sync_chunk_message_count_tuning: bool
        support_hosted_group_msg: bool
        support_fbid_bot_chat_history: bool
        support_add_on_history_sync_migration: bool
        support_message_association: bool
        support_group_history: bool
        on_demand_ready: bool
        support_guest_chat: bool
        complete_on_demand_ready: bool
        thumbnail_sync_days_limit: int
        def __init__(self, full_sync_days_limit: _Optional[int] = ..., full_sync_size_mb_limit: _Optional[int] = ..., storage_quota_mb: _Optional[int] = ..., inline_initial_payload_in_e2ee_msg: _Optional[bool] = ..., recent_sync_days_limit: _Optional[int] = ..., support_call_log_history: _Optional[bool] = ..., support_bot_user_agent_chat_history: _Optional[bool] = ..., support_cag_reactions_and_polls: _Optional[bool] = ..., support_biz_hosted_msg: _Optional[bool] = ..., support_recent_sync_chunk_message_count_tuning: _Optional[bool] = ..., support_hosted_group_msg: _Optional[bool] = ..., support_fbid_bot_chat_history: _Optional[bool] = ..., support_add_on_history_sync_migration: _Optional[bool] = ..., support_message_association: _Optional[bool] = ..., support_group_history: _Optional[bool] = ..., on_demand_ready: _Optional[bool] = ..., support_guest_chat: _Optional[bool] = ..., complete_on_demand_ready: _Optional[bool] = ..., thumbnail_sync_days_limit: _Optional[int] = ...) -> None: ...
    OS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_FULL_SYNC_FIELD_NUMBER: _ClassVar[int]
    HISTORY_SYNC_CONFIG_FIELD_NUMBER: _ClassVar[int]
    os: str
    version: DeviceProps.AppVersion
    platform_type: DeviceProps.PlatformType
    require_full_sync: bool
    history_sync_config: DeviceProps.HistorySyncConfig
    def __init__(self, os: _Optional[str] = ..., version: _Optional[_Union[DeviceProps.AppVersion, _Mapping]] = ..., platform_type: _Optional[_Union[DeviceProps.PlatformType, str]] = ..., require_full_sync: _Optional[bool] = ..., history_sync_config: _Optional[_Union[DeviceProps.HistorySyncConfig, _Mapping]] = ...) -> None: ...

class ADVSignedDeviceIdentityHMAC(_message.Message):
    __slots__ = ("details", "hmac", "account_type")
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    HMAC_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    details: bytes
    hmac: bytes
    account_type: ADVEncryptionType
    def __init__(self, details: _Optional[bytes] = ..., hmac: _Optional[bytes] = ..., account_type: _Optional[_Union[ADVEncryptionType, str]] = ...) -> None: ...

class ADVSignedDeviceIdentity(_message.Message):
    __slots__ = ("details", "account_signature_key", "account_signature", "device_signature")
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_SIGNATURE_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    details: bytes
    account_signature_key: bytes
    account_signature: bytes
    device_signature: bytes
    def __init__(self, details: _Optional[bytes] = ..., account_signature_key: _Optional[bytes] = ..., account_signature: _Optional[bytes] = ..., device_signature: _Optional[bytes] = ...) -> None: ...

class ADVDeviceIdentity(_message.Message):
    __slots__ = ("raw_id", "timestamp", "key_index", "account_type", "device_type")
    RAW_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KEY_INDEX_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    raw_id: int
    timestamp: int
    key_index: int
    account_type: ADVEncryptionType
    device_type: ADVEncryptionType
    def __init__(self, raw_id: _Optional[int] = ..., timestamp: _Optional[int] = ..., key_index: _Optional[int] = ..., account_type: _Optional[_Union[ADVEncryptionType, str]] = ..., device_type: _Optional[_Union[ADVEncryptionType, str]] = ...) -> None: ...

class ADVKeyIndexList(_message.Message):
    __slots__ = ("raw_id", "timestamp", "current_index", "valid_indexes", "account_type")
    RAW_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CURRENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    VALID_INDEXES_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    raw_id: int
    timestamp: int
    current_index: int
    valid_indexes: _containers.RepeatedScalarFieldContainer[int]
    account_type: ADVEncryptionType
    def __init__(self, raw_id: _Optional[int] = ..., timestamp: _Optional[int] = ..., current_index: _Optional[int] = ..., valid_indexes: _Optional[_Iterable[int]] = ..., account_type: _Optional[_Union[ADVEncryptionType, str]] = ...) -> None: ...

class ADVSignedKeyIndexList(_message.Message):
    __slots__ = ("details", "account_signature", "account_signature_key")
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_SIGNATURE_KEY_FIELD_NUMBER: _ClassVar[int]
    details: bytes
    account_signature: bytes
    account_signature_key: bytes
    def __init__(self, details: _Optional[bytes] = ..., account_signature: _Optional[bytes] = ..., account_signature_key: _Optional[bytes] = ...) -> None: ...
