# mypy: disable-error-code="type-arg"
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageKey(_message.Message):
    __slots__ = ("remote_jid", "from_me", "id", "participant")
    REMOTE_JID_FIELD_NUMBER: _ClassVar[int]
    FROM_ME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    remote_jid: str
    from_me: bool
    id: str
    participant: str
    def __init__(self, remote_jid: _Optional[str] = ..., from_me: _Optional[bool] = ..., id: _Optional[str] = ..., participant: _Optional[str] = ...) -> None: ...

class ContextInfo(_message.Message):
    __slots__ = ("stanza_id", "participant", "quoted_message", "remote_jid", "mentioned_jid", "forwarding_score", "is_forwarded", "expiration")
    STANZA_ID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    QUOTED_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_JID_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_JID_FIELD_NUMBER: _ClassVar[int]
    FORWARDING_SCORE_FIELD_NUMBER: _ClassVar[int]
    IS_FORWARDED_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    stanza_id: str
    participant: str
    quoted_message: Message
    remote_jid: str
    mentioned_jid: _containers.RepeatedScalarFieldContainer[str]
    forwarding_score: int
    is_forwarded: bool
    expiration: int
    def __init__(self, stanza_id: _Optional[str] = ..., participant: _Optional[str] = ..., quoted_message: _Optional[_Union[Message, _Mapping]] = ..., remote_jid: _Optional[str] = ..., mentioned_jid: _Optional[_Iterable[str]] = ..., forwarding_score: _Optional[int] = ..., is_forwarded: _Optional[bool] = ..., expiration: _Optional[int] = ...) -> None: ...

class MessageContextInfo(_message.Message):
    __slots__ = ("device_list_metadata_version", "message_secret", "padding_bytes")
    DEVICE_LIST_METADATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_SECRET_FIELD_NUMBER: _ClassVar[int]
    PADDING_BYTES_FIELD_NUMBER: _ClassVar[int]
    device_list_metadata_version: int
    message_secret: bytes
    padding_bytes: bytes
    def __init__(self, device_list_metadata_version: _Optional[int] = ..., message_secret: _Optional[bytes] = ..., padding_bytes: _Optional[bytes] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("conversation", "sender_key_distribution_message", "image_message", "extended_text_message", "document_message", "video_message", "protocol_message", "fast_ratchet_key_sender_key_distribution_message", "device_sent_message", "message_context_info", "view_once_message", "ephemeral_message", "reaction_message", "document_with_caption_message", "view_once_message_v2", "edited_message")
    class HistorySyncType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INITIAL_BOOTSTRAP: _ClassVar[Message.HistorySyncType]
        INITIAL_STATUS_V3: _ClassVar[Message.HistorySyncType]
        FULL: _ClassVar[Message.HistorySyncType]
        RECENT: _ClassVar[Message.HistorySyncType]
        PUSH_NAME: _ClassVar[Message.HistorySyncType]
        NON_BLOCKING_DATA: _ClassVar[Message.HistorySyncType]
        ON_DEMAND: _ClassVar[Message.HistorySyncType]
        NO_HISTORY: _ClassVar[Message.HistorySyncType]
        MESSAGE_ACCESS_STATUS: _ClassVar[Message.HistorySyncType]
    INITIAL_BOOTSTRAP: Message.HistorySyncType
    INITIAL_STATUS_V3: Message.HistorySyncType
    FULL: Message.HistorySyncType
    RECENT: Message.HistorySyncType
    PUSH_NAME: Message.HistorySyncType
    NON_BLOCKING_DATA: Message.HistorySyncType
    ON_DEMAND: Message.HistorySyncType
    NO_HISTORY: Message.HistorySyncType
    MESSAGE_ACCESS_STATUS: Message.HistorySyncType
    class SenderKeyDistributionMessage(_message.Message):
        __slots__ = ("group_id", "axolotl_sender_key_distribution_message")
        GROUP_ID_FIELD_NUMBER: _ClassVar[int]
        AXOLOTL_SENDER_KEY_DISTRIBUTION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
        group_id: str
        axolotl_sender_key_distribution_message: bytes
        def __init__(self, group_id: _Optional[str] = ..., axolotl_sender_key_distribution_message: _Optional[bytes] = ...) -> None: ...
    class ExtendedTextMessage(_message.Message):
        __slots__ = ("text", "matched_text", "description", "title", "context_info")
        TEXT_FIELD_NUMBER: _ClassVar[int]
        MATCHED_TEXT_FIELD_NUMBER: _ClassVar[int]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        TITLE_FIELD_NUMBER: _ClassVar[int]
        CONTEXT_INFO_FIELD_NUMBER: _ClassVar[int]
        text: str
        matched_text: str
        description: str
        title: str
        context_info: ContextInfo
        def __init__(self, text: _Optional[str] = ..., matched_text: _Optional[str] = ..., description: _Optional[str] = ..., title: _Optional[str] = ..., context_info: _Optional[_Union[ContextInfo, _Mapping]] = ...) -> None: ...
    class ImageMessage(_message.Message):
        __slots__ = ("url", "mimetype", "caption", "file_sha256", "file_length", "height", "width", "media_key", "file_enc_sha256", "direct_path", "media_key_timestamp", "jpeg_thumbnail", "context_info")
        URL_FIELD_NUMBER: _ClassVar[int]
        MIMETYPE_FIELD_NUMBER: _ClassVar[int]
        CAPTION_FIELD_NUMBER: _ClassVar[int]
        FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
        FILE_LENGTH_FIELD_NUMBER: _ClassVar[int]
        HEIGHT_FIELD_NUMBER: _ClassVar[int]
        WIDTH_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_FIELD_NUMBER: _ClassVar[int]
        FILE_ENC_SHA256_FIELD_NUMBER: _ClassVar[int]
        DIRECT_PATH_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        JPEG_THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
        CONTEXT_INFO_FIELD_NUMBER: _ClassVar[int]
        url: str
        mimetype: str
        caption: str
        file_sha256: bytes
        file_length: int
        height: int
        width: int
        media_key: bytes
        file_enc_sha256: bytes
        direct_path: str
        media_key_timestamp: int
        jpeg_thumbnail: bytes
        context_info: ContextInfo
        def __init__(self, url: _Optional[str] = ..., mimetype: _Optional[str] = ..., caption: _Optional[str] = ..., file_sha256: _Optional[bytes] = ..., file_length: _Optional[int] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., media_key: _Optional[bytes] = ..., file_enc_sha256: _Optional[bytes] = ..., direct_path: _Optional[str] = ..., media_key_timestamp: _Optional[int] = ..., jpeg_thumbnail: _Optional[bytes] = ..., context_info: _Optional[_Union[ContextInfo, _Mapping]] = ...) -> None: ...
    class DocumentMessage(_message.Message):
        __slots__ = ("url", "mimetype", "title", "file_sha256", "file_length", "page_count", "media_key", "file_name", "file_enc_sha256", "direct_path", "media_key_timestamp", "jpeg_thumbnail", "context_info", "caption")
        URL_FIELD_NUMBER: _ClassVar[int]
        MIMETYPE_FIELD_NUMBER: _ClassVar[int]
        TITLE_FIELD_NUMBER: _ClassVar[int]
        FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
        FILE_LENGTH_FIELD_NUMBER: _ClassVar[int]
        PAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_FIELD_NUMBER: _ClassVar[int]
        FILE_NAME_FIELD_NUMBER: _ClassVar[int]
        FILE_ENC_SHA256_FIELD_NUMBER: _ClassVar[int]
        DIRECT_PATH_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        JPEG_THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
        CONTEXT_INFO_FIELD_NUMBER: _ClassVar[int]
        CAPTION_FIELD_NUMBER: _ClassVar[int]
        url: str
        mimetype: str
        title: str
        file_sha256: bytes
        file_length: int
        page_count: int
        media_key: bytes
        file_name: str
        file_enc_sha256: bytes
        direct_path: str
        media_key_timestamp: int
        jpeg_thumbnail: bytes
        context_info: ContextInfo
        caption: str
        def __init__(self, url: _Optional[str] = ..., mimetype: _Optional[str] = ..., title: _Optional[str] = ..., file_sha256: _Optional[bytes] = ..., file_length: _Optional[int] = ..., page_count: _Optional[int] = ..., media_key: _Optional[bytes] = ..., file_name: _Optional[str] = ..., file_enc_sha256: _Optional[bytes] = ..., direct_path: _Optional[str] = ..., media_key_timestamp: _Optional[int] = ..., jpeg_thumbnail: _Optional[bytes] = ..., context_info: _Optional[_Union[ContextInfo, _Mapping]] = ..., caption: _Optional[str] = ...) -> None: ...
    class VideoMessage(_message.Message):
        __slots__ = ("url", "mimetype", "file_sha256", "file_length", "seconds", "media_key", "caption", "gif_playback", "height", "width", "file_enc_sha256", "direct_path", "media_key_timestamp", "jpeg_thumbnail", "context_info")
        URL_FIELD_NUMBER: _ClassVar[int]
        MIMETYPE_FIELD_NUMBER: _ClassVar[int]
        FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
        FILE_LENGTH_FIELD_NUMBER: _ClassVar[int]
        SECONDS_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_FIELD_NUMBER: _ClassVar[int]
        CAPTION_FIELD_NUMBER: _ClassVar[int]
        GIF_PLAYBACK_FIELD_NUMBER: _ClassVar[int]
        HEIGHT_FIELD_NUMBER: _ClassVar[int]
        WIDTH_FIELD_NUMBER: _ClassVar[int]
        FILE_ENC_SHA256_FIELD_NUMBER: _ClassVar[int]
        DIRECT_PATH_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        JPEG_THUMBNAIL_FIELD_NUMBER: _ClassVar[int]
        CONTEXT_INFO_FIELD_NUMBER: _ClassVar[int]
        url: str
        mimetype: str
        file_sha256: bytes
        file_length: int
        seconds: int
        media_key: bytes
        caption: str
        gif_playback: bool
        height: int
        width: int
        file_enc_sha256: bytes
        direct_path: str
        media_key_timestamp: int
        jpeg_thumbnail: bytes
        context_info: ContextInfo
        def __init__(self, url: _Optional[str] = ..., mimetype: _Optional[str] = ..., file_sha256: _Optional[bytes] = ..., file_length: _Optional[int] = ..., seconds: _Optional[int] = ..., media_key: _Optional[bytes] = ..., caption: _Optional[str] = ..., gif_playback: _Optional[bool] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., file_enc_sha256: _Optional[bytes] = ..., direct_path: _Optional[str] = ..., media_key_timestamp: _Optional[int] = ..., jpeg_thumbnail: _Optional[bytes] = ..., context_info: _Optional[_Union[ContextInfo, _Mapping]] = ...) -> None: ...
    class ReactionMessage(_message.Message):
        __slots__ = ("key", "text", "grouping_key", "sender_timestamp_ms")
        KEY_FIELD_NUMBER: _ClassVar[int]
        TEXT_FIELD_NUMBER: _ClassVar[int]
        GROUPING_KEY_FIELD_NUMBER: _ClassVar[int]
        SENDER_TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
        key: MessageKey
        text: str
        grouping_key: str
        sender_timestamp_ms: int
        def __init__(self, key: _Optional[_Union[MessageKey, _Mapping]] = ..., text: _Optional[str] = ..., grouping_key: _Optional[str] = ..., sender_timestamp_ms: _Optional[int] = ...) -> None: ...
    class FutureProofMessage(_message.Message):
        __slots__ = ("message",)
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        message: Message
        def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ...) -> None: ...
    class DeviceSentMessage(_message.Message):
        __slots__ = ("destination_jid", "message", "phash")
        DESTINATION_JID_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        PHASH_FIELD_NUMBER: _ClassVar[int]
        destination_jid: str
        message: Message
        phash: str
        def __init__(self, destination_jid: _Optional[str] = ..., message: _Optional[_Union[Message, _Mapping]] = ..., phash: _Optional[str] = ...) -> None: ...
    class HistorySyncNotification(_message.Message):
        __slots__ = ("file_sha256", "file_length", "media_key", "file_enc_sha256", "direct_path", "sync_type", "chunk_order", "original_message_id", "progress", "oldest_msg_in_chunk_timestamp_sec", "initial_hist_bootstrap_inline_payload", "peer_data_request_session_id", "enc_handle")
        FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
        FILE_LENGTH_FIELD_NUMBER: _ClassVar[int]
        MEDIA_KEY_FIELD_NUMBER: _ClassVar[int]
        FILE_ENC_SHA256_FIELD_NUMBER: _ClassVar[int]
        DIRECT_PATH_FIELD_NUMBER: _ClassVar[int]
        SYNC_TYPE_FIELD_NUMBER: _ClassVar[int]
        CHUNK_ORDER_FIELD_NUMBER: _ClassVar[int]
        ORIGINAL_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
        PROGRESS_FIELD_NUMBER: _ClassVar[int]
        OLDEST_MSG_IN_CHUNK_TIMESTAMP_SEC_FIELD_NUMBER: _ClassVar[int]
        INITIAL_HIST_BOOTSTRAP_INLINE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
        PEER_DATA_REQUEST_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
        ENC_HANDLE_FIELD_NUMBER: _ClassVar[int]
        file_sha256: bytes
        file_length: int
        media_key: bytes
        file_enc_sha256: bytes
        direct_path: str
        sync_type: Message.HistorySyncType
        chunk_order: int
        original_message_id: str
        progress: int
        oldest_msg_in_chunk_timestamp_sec: int
        initial_hist_bootstrap_inline_payload: bytes
        peer_data_request_session_id: str
        enc_handle: str
        def __init__(self, file_sha256: _Optional[bytes] = ..., file_length: _Optional[int] = ..., media_key: _Optional[bytes] = ..., file_enc_sha256: _Optional[bytes] = ..., direct_path: _Optional[str] = ..., sync_type: _Optional[_Union[Message.HistorySyncType, str]] = ..., chunk_order: _Optional[int] = ..., original_message_id: _Optional[str] = ..., progress: _Optional[int] = ..., oldest_msg_in_chunk_timestamp_sec: _Optional[int] = ..., initial_hist_bootstrap_inline_payload: _Optional[bytes] = ..., peer_data_request_session_id: _Optional[str] = ..., enc_handle: _Optional[str] = ...) -> None: ...
    class AppStateSyncKeyId(_message.Message):
        __slots__ = ("key_id",)
        KEY_ID_FIELD_NUMBER: _ClassVar[int]
        key_id: bytes
        def __init__(self, key_id: _Optional[bytes] = ...) -> None: ...
    class AppStateSyncKeyFingerprint(_message.Message):
        __slots__ = ("raw_id", "current_index", "device_indexes")
        RAW_ID_FIELD_NUMBER: _ClassVar[int]
        CURRENT_INDEX_FIELD_NUMBER: _ClassVar[int]
        DEVICE_INDEXES_FIELD_NUMBER: _ClassVar[int]
        raw_id: int
        current_index: int
        device_indexes: _containers.RepeatedScalarFieldContainer[int]
        def __init__(self, raw_id: _Optional[int] = ..., current_index: _Optional[int] = ..., device_indexes: _Optional[_Iterable[int]] = ...) -> None: ...
    class AppStateSyncKeyData(_message.Message):
        __slots__ = ("key_data", "fingerprint", "timestamp")
        KEY_DATA_FIELD_NUMBER: _ClassVar[int]
        FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
        TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        key_data: bytes
        fingerprint: Message.AppStateSyncKeyFingerprint
        timestamp: int
        def __init__(self, key_data: _Optional[bytes] = ..., fingerprint: _Optional[_Union[Message.AppStateSyncKeyFingerprint, _Mapping]] = ..., timestamp: _Optional[int] = ...) -> None: ...
    class AppStateSyncKey(_message.Message):
        __slots__ = ("key_id", "key_data")
        KEY_ID_FIELD_NUMBER: _ClassVar[int]
        KEY_DATA_FIELD_NUMBER: _ClassVar[int]
        key_id: Message.AppStateSyncKeyId
        key_data: Message.AppStateSyncKeyData
        def __init__(self, key_id: _Optional[_Union[Message.AppStateSyncKeyId, _Mapping]] = ..., key_data: _Optional[_Union[Message.AppStateSyncKeyData, _Mapping]] = ...) -> None: ...
    class AppStateSyncKeyShare(_message.Message):
        __slots__ = ("keys",)
        KEYS_FIELD_NUMBER: _ClassVar[int]
        keys: _containers.RepeatedCompositeFieldContainer[Message.AppStateSyncKey]
        def __init__(self, keys: _Optional[_Iterable[_Union[Message.AppStateSyncKey, _Mapping]]] = ...) -> None: ...
    class AppStateSyncKeyRequest(_message.Message):
        __slots__ = ("key_ids",)
        KEY_IDS_FIELD_NUMBER: _ClassVar[int]
        key_ids: _containers.RepeatedCompositeFieldContainer[Message.AppStateSyncKeyId]
        def __init__(self, key_ids: _Optional[_Iterable[_Union[Message.AppStateSyncKeyId, _Mapping]]] = ...) -> None: ...
    class ProtocolMessage(_message.Message):
        __slots__ = ("key", "type", "ephemeral_expiration", "ephemeral_setting_timestamp", "history_sync_notification", "app_state_sync_key_share", "app_state_sync_key_request", "edited_message", "timestamp_ms")
        class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            REVOKE: _ClassVar[Message.ProtocolMessage.Type]
            EPHEMERAL_SETTING: _ClassVar[Message.ProtocolMessage.Type]
            EPHEMERAL_SYNC_RESPONSE: _ClassVar[Message.ProtocolMessage.Type]
            HISTORY_SYNC_NOTIFICATION: _ClassVar[Message.ProtocolMessage.Type]
            APP_STATE_SYNC_KEY_SHARE: _ClassVar[Message.ProtocolMessage.Type]
            APP_STATE_SYNC_KEY_REQUEST: _ClassVar[Message.ProtocolMessage.Type]
            MSG_FANOUT_BACKFILL_REQUEST: _ClassVar[Message.ProtocolMessage.Type]
            INITIAL_SECURITY_NOTIFICATION_SETTING_SYNC: _ClassVar[Message.ProtocolMessage.Type]
            APP_STATE_FATAL_EXCEPTION_NOTIFICATION: _ClassVar[Message.ProtocolMessage.Type]
            SHARE_PHONE_NUMBER: _ClassVar[Message.ProtocolMessage.Type]
            MESSAGE_EDIT: _ClassVar[Message.ProtocolMessage.Type]
            PEER_DATA_OPERATION_REQUEST_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            REQUEST_WELCOME_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            BOT_FEEDBACK_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            MEDIA_NOTIFY_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            CLOUD_API_THREAD_CONTROL_NOTIFICATION: _ClassVar[Message.ProtocolMessage.Type]
            LID_MIGRATION_MAPPING_SYNC: _ClassVar[Message.ProtocolMessage.Type]
            REMINDER_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            BOT_MEMU_ONBOARDING_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            STATUS_MENTION_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            STOP_GENERATION_MESSAGE: _ClassVar[Message.ProtocolMessage.Type]
            LIMIT_SHARING: _ClassVar[Message.ProtocolMessage.Type]
            AI_PSI_METADATA: _ClassVar[Message.ProtocolMessage.Type]
            AI_QUERY_FANOUT: _ClassVar[Message.ProtocolMessage.Type]
            GROUP_MEMBER_LABEL_CHANGE: _ClassVar[Message.ProtocolMessage.Type]
        REVOKE: Message.ProtocolMessage.Type
        EPHEMERAL_SETTING: Message.ProtocolMessage.Type
        EPHEMERAL_SYNC_RESPONSE: Message.ProtocolMessage.Type
        HISTORY_SYNC_NOTIFICATION: Message.ProtocolMessage.Type
        APP_STATE_SYNC_KEY_SHARE: Message.ProtocolMessage.Type
        APP_STATE_SYNC_KEY_REQUEST: Message.ProtocolMessage.Type
        MSG_FANOUT_BACKFILL_REQUEST: Message.ProtocolMessage.Type
        INITIAL_SECURITY_NOTIFICATION_SETTING_SYNC: Message.ProtocolMessage.Type
        APP_STATE_FATAL_EXCEPTION_NOTIFICATION: Message.ProtocolMessage.Type
        SHARE_PHONE_NUMBER: Message.ProtocolMessage.Type
        MESSAGE_EDIT: Message.ProtocolMessage.Type
        PEER_DATA_OPERATION_REQUEST_MESSAGE: Message.ProtocolMessage.Type
        PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE: Message.ProtocolMessage.Type
        REQUEST_WELCOME_MESSAGE: Message.ProtocolMessage.Type
        BOT_FEEDBACK_MESSAGE: Message.ProtocolMessage.Type
        MEDIA_NOTIFY_MESSAGE: Message.ProtocolMessage.Type
        CLOUD_API_THREAD_CONTROL_NOTIFICATION: Message.ProtocolMessage.Type
        LID_MIGRATION_MAPPING_SYNC: Message.ProtocolMessage.Type
        REMINDER_MESSAGE: Message.ProtocolMessage.Type
        BOT_MEMU_ONBOARDING_MESSAGE: Message.ProtocolMessage.Type
        STATUS_MENTION_MESSAGE: Message.ProtocolMessage.Type
        STOP_GENERATION_MESSAGE: Message.ProtocolMessage.Type
        LIMIT_SHARING: Message.ProtocolMessage.Type
        AI_PSI_METADATA: Message.ProtocolMessage.Type
        AI_QUERY_FANOUT: Message.ProtocolMessage.Type
        GROUP_MEMBER_LABEL_CHANGE: Message.ProtocolMessage.Type
        KEY_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        EPHEMERAL_EXPIRATION_FIELD_NUMBER: _ClassVar[int]
        EPHEMERAL_SETTING_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
        HISTORY_SYNC_NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
        APP_STATE_SYNC_KEY_SHARE_FIELD_NUMBER: _ClassVar[int]
        APP_STATE_SYNC_KEY_REQUEST_FIELD_NUMBER: _ClassVar[int]
        EDITED_MESSAGE_FIELD_NUMBER: _ClassVar[int]
        TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
        key: MessageKey
        type: Message.ProtocolMessage.Type
        ephemeral_expiration: int
        ephemeral_setting_timestamp: int
        history_sync_notification: Message.HistorySyncNotification
        app_state_sync_key_share: Message.AppStateSyncKeyShare
        app_state_sync_key_request: Message.AppStateSyncKeyRequest
        edited_message: Message
        timestamp_ms: int
        def __init__(self, key: _Optional[_Union[MessageKey, _Mapping]] = ..., type: _Optional[_Union[Message.ProtocolMessage.Type, str]] = ..., ephemeral_expiration: _Optional[int] = ..., ephemeral_setting_timestamp: _Optional[int] = ..., history_sync_notification: _Optional[_Union[Message.HistorySyncNotification, _Mapping]] = ..., app_state_sync_key_share: _Optional[_Union[Message.AppStateSyncKeyShare, _Mapping]] = ..., app_state_sync_key_request: _Optional[_Union[Message.AppStateSyncKeyRequest, _Mapping]] = ..., edited_message: _Optional[_Union[Message, _Mapping]] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    SENDER_KEY_DISTRIBUTION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_TEXT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIDEO_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAST_RATCHET_KEY_SENDER_KEY_DISTRIBUTION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SENT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CONTEXT_INFO_FIELD_NUMBER: _ClassVar[int]
    VIEW_ONCE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REACTION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_WITH_CAPTION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIEW_ONCE_MESSAGE_V2_FIELD_NUMBER: _ClassVar[int]
    EDITED_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    conversation: str
    sender_key_distribution_message: Message.SenderKeyDistributionMessage
    image_message: Message.ImageMessage
    extended_text_message: Message.ExtendedTextMessage
    document_message: Message.DocumentMessage
    video_message: Message.VideoMessage
    protocol_message: Message.ProtocolMessage
    fast_ratchet_key_sender_key_distribution_message: Message.SenderKeyDistributionMessage
    device_sent_message: Message.DeviceSentMessage
    message_context_info: MessageContextInfo
    view_once_message: Message.FutureProofMessage
    ephemeral_message: Message.FutureProofMessage
    reaction_message: Message.ReactionMessage
    document_with_caption_message: Message.FutureProofMessage
    view_once_message_v2: Message.FutureProofMessage
    edited_message: Message.FutureProofMessage
    def __init__(self, conversation: _Optional[str] = ..., sender_key_distribution_message: _Optional[_Union[Message.SenderKeyDistributionMessage, _Mapping]] = ..., image_message: _Optional[_Union[Message.ImageMessage, _Mapping]] = ..., extended_text_message: _Optional[_Union[Message.ExtendedTextMessage, _Mapping]] = ..., document_message: _Optional[_Union[Message.DocumentMessage, _Mapping]] = ..., video_message: _Optional[_Union[Message.VideoMessage, _Mapping]] = ..., protocol_message: _Optional[_Union[Message.ProtocolMessage, _Mapping]] = ..., fast_ratchet_key_sender_key_distribution_message: _Optional[_Union[Message.SenderKeyDistributionMessage, _Mapping]] = ..., device_sent_message: _Optional[_Union[Message.DeviceSentMessage, _Mapping]] = ..., message_context_info: _Optional[_Union[MessageContextInfo, _Mapping]] = ..., view_once_message: _Optional[_Union[Message.FutureProofMessage, _Mapping]] = ..., ephemeral_message: _Optional[_Union[Message.FutureProofMessage, _Mapping]] = ..., reaction_message: _Optional[_Union[Message.ReactionMessage, _Mapping]] = ..., document_with_caption_message: _Optional[_Union[Message.FutureProofMessage, _Mapping]] = ..., view_once_message_v2: _Optional[_Union[Message.FutureProofMessage, _Mapping]] = ..., edited_message: _Optional[_Union[Message.FutureProofMessage, _Mapping]] = ...) -> None: ...

class WebMessageInfo(_message.Message):
    __slots__ = ("key", "message", "message_timestamp", "status", "participant", "ignore", "starred", "broadcast", "push_name", "message_stub_type", "message_stub_parameters", "labels")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ERROR: _ClassVar[WebMessageInfo.Status]
        PENDING: _ClassVar[WebMessageInfo.Status]
        SERVER_ACK: _ClassVar[WebMessageInfo.Status]
        DELIVERY_ACK: _ClassVar[WebMessageInfo.Status]
        READ: _ClassVar[WebMessageInfo.Status]
        PLAYED: _ClassVar[WebMessageInfo.Status]
    ERROR: WebMessageInfo.Status
    PENDING: WebMessageInfo.Status
    SERVER_ACK: WebMessageInfo.Status
    DELIVERY_ACK: WebMessageInfo.Status
    READ: WebMessageInfo.Status
    PLAYED: WebMessageInfo.Status
    class StubType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[WebMessageInfo.StubType]
        REVOKE: _ClassVar[WebMessageInfo.StubType]
        CIPHERTEXT: _ClassVar[WebMessageInfo.StubType]
        FUTUREPROOF: _ClassVar[WebMessageInfo.StubType]
    UNKNOWN: WebMessageInfo.StubType
    REVOKE: WebMessageInfo.StubType
    CIPHERTEXT: WebMessageInfo.StubType
    FUTUREPROOF: WebMessageInfo.StubType
    KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    IGNORE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    PUSH_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_STUB_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_STUB_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    key: MessageKey
    message: Message
    message_timestamp: int
    status: WebMessageInfo.Status
    participant: str
    ignore: bool
    starred: bool
    broadcast: bool
    push_name: str
    message_stub_type: WebMessageInfo.StubType
    message_stub_parameters: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[_Union[MessageKey, _Mapping]] = ..., message: _Optional[_Union[Message, _Mapping]] = ..., message_timestamp: _Optional[int] = ..., status: _Optional[_Union[WebMessageInfo.Status, str]] = ..., participant: _Optional[str] = ..., ignore: _Optional[bool] = ..., starred: _Optional[bool] = ..., broadcast: _Optional[bool] = ..., push_name: _Optional[str] = ..., message_stub_type: _Optional[_Union[WebMessageInfo.StubType, str]] = ..., message_stub_parameters: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[str]] = ...) -> None: ...

class ServerErrorReceipt(_message.Message):
    __slots__ = ("stanza_id",)
    STANZA_ID_FIELD_NUMBER: _ClassVar[int]
    stanza_id: str
    def __init__(self, stanza_id: _Optional[str] = ...) -> None: ...

class HistorySyncMsg(_message.Message):
    __slots__ = ("message", "msg_order_id")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MSG_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    message: WebMessageInfo
    msg_order_id: int
    def __init__(self, message: _Optional[_Union[WebMessageInfo, _Mapping]] = ..., msg_order_id: _Optional[int] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("id", "messages", "new_jid", "old_jid", "last_msg_timestamp", "unread_count", "read_only", "end_of_history_transfer", "ephemeral_expiration", "ephemeral_setting_timestamp", "conversation_timestamp", "name", "not_spam", "archived", "unread_mention_count", "marked_as_unread", "tc_token", "tc_token_timestamp", "pinned", "mute_end_time", "display_name", "pn_jid", "lid_jid", "username")
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEW_JID_FIELD_NUMBER: _ClassVar[int]
    OLD_JID_FIELD_NUMBER: _ClassVar[int]
    LAST_MSG_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    UNREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    END_OF_HISTORY_TRANSFER_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_SETTING_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOT_SPAM_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    UNREAD_MENTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    MARKED_AS_UNREAD_FIELD_NUMBER: _ClassVar[int]
    TC_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TC_TOKEN_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    MUTE_END_TIME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PN_JID_FIELD_NUMBER: _ClassVar[int]
    LID_JID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    messages: _containers.RepeatedCompositeFieldContainer[HistorySyncMsg]
    new_jid: str
    old_jid: str
    last_msg_timestamp: int
    unread_count: int
    read_only: bool
    end_of_history_transfer: bool
    ephemeral_expiration: int
    ephemeral_setting_timestamp: int
    conversation_timestamp: int
    name: str
    not_spam: bool
    archived: bool
    unread_mention_count: int
    marked_as_unread: bool
    tc_token: bytes
    tc_token_timestamp: int
    pinned: int
    mute_end_time: int
    display_name: str
    pn_jid: str
    lid_jid: str
    username: str
    def __init__(self, id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[HistorySyncMsg, _Mapping]]] = ..., new_jid: _Optional[str] = ..., old_jid: _Optional[str] = ..., last_msg_timestamp: _Optional[int] = ..., unread_count: _Optional[int] = ..., read_only: _Optional[bool] = ..., end_of_history_transfer: _Optional[bool] = ..., ephemeral_expiration: _Optional[int] = ..., ephemeral_setting_timestamp: _Optional[int] = ..., conversation_timestamp: _Optional[int] = ..., name: _Optional[str] = ..., not_spam: _Optional[bool] = ..., archived: _Optional[bool] = ..., unread_mention_count: _Optional[int] = ..., marked_as_unread: _Optional[bool] = ..., tc_token: _Optional[bytes] = ..., tc_token_timestamp: _Optional[int] = ..., pinned: _Optional[int] = ..., mute_end_time: _Optional[int] = ..., display_name: _Optional[str] = ..., pn_jid: _Optional[str] = ..., lid_jid: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class Pushname(_message.Message):
    __slots__ = ("id", "pushname")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUSHNAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    pushname: str
    def __init__(self, id: _Optional[str] = ..., pushname: _Optional[str] = ...) -> None: ...

class PhoneNumberToLIDMapping(_message.Message):
    __slots__ = ("pn_jid", "lid_jid")
    PN_JID_FIELD_NUMBER: _ClassVar[int]
    LID_JID_FIELD_NUMBER: _ClassVar[int]
    pn_jid: str
    lid_jid: str
    def __init__(self, pn_jid: _Optional[str] = ..., lid_jid: _Optional[str] = ...) -> None: ...

class HistorySync(_message.Message):
    __slots__ = ("sync_type", "conversations", "status_v3_messages", "chunk_order", "progress", "pushnames", "phone_number_to_lid_mappings")
    class HistorySyncType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INITIAL_BOOTSTRAP: _ClassVar[HistorySync.HistorySyncType]
        INITIAL_STATUS_V3: _ClassVar[HistorySync.HistorySyncType]
        FULL: _ClassVar[HistorySync.HistorySyncType]
        RECENT: _ClassVar[HistorySync.HistorySyncType]
        PUSH_NAME: _ClassVar[HistorySync.HistorySyncType]
        NON_BLOCKING_DATA: _ClassVar[HistorySync.HistorySyncType]
        ON_DEMAND: _ClassVar[HistorySync.HistorySyncType]
    INITIAL_BOOTSTRAP: HistorySync.HistorySyncType
    INITIAL_STATUS_V3: HistorySync.HistorySyncType
    FULL: HistorySync.HistorySyncType
    RECENT: HistorySync.HistorySyncType
    PUSH_NAME: HistorySync.HistorySyncType
    NON_BLOCKING_DATA: HistorySync.HistorySyncType
    ON_DEMAND: HistorySync.HistorySyncType
    SYNC_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_V3_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ORDER_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PUSHNAMES_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_TO_LID_MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    sync_type: HistorySync.HistorySyncType
    conversations: _containers.RepeatedCompositeFieldContainer[Conversation]
    status_v3_messages: _containers.RepeatedCompositeFieldContainer[WebMessageInfo]
    chunk_order: int
    progress: int
    pushnames: _containers.RepeatedCompositeFieldContainer[Pushname]
    phone_number_to_lid_mappings: _containers.RepeatedCompositeFieldContainer[PhoneNumberToLIDMapping]
    def __init__(self, sync_type: _Optional[_Union[HistorySync.HistorySyncType, str]] = ..., conversations: _Optional[_Iterable[_Union[Conversation, _Mapping]]] = ..., status_v3_messages: _Optional[_Iterable[_Union[WebMessageInfo, _Mapping]]] = ..., chunk_order: _Optional[int] = ..., progress: _Optional[int] = ..., pushnames: _Optional[_Iterable[_Union[Pushname, _Mapping]]] = ..., phone_number_to_lid_mappings: _Optional[_Iterable[_Union[PhoneNumberToLIDMapping, _Mapping]]] = ...) -> None: ...
