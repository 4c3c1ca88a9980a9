/* Constants of the Arrow IPC format shared by our writer and reader: union tags and field ids of
 * Schema.fbs / Message.fbs, and the stream framing. */
#ifndef IPW_RESULTS_ARROW_FORMAT_H
#define IPW_RESULTS_ARROW_FORMAT_H

/* Buffers are written and read in host order; Arrow data here is little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ipw's Arrow IPC code assumes a little-endian host"
#endif

#define ARROW_CONTINUATION 0xFFFFFFFFu
#define ARROW_ALIGN 8
#define ARROW_FILE_MAGIC "ARROW1"

/* MetadataVersion (short) */
#define ARROW_V4 3
#define ARROW_V5 4

/* union MessageHeader */
#define ARROW_MSG_SCHEMA 1
#define ARROW_MSG_DICTIONARY_BATCH 2
#define ARROW_MSG_RECORD_BATCH 3

/* union Type */
#define ARROW_T_NULL 1
#define ARROW_T_INT 2
#define ARROW_T_FLOATING_POINT 3
#define ARROW_T_UTF8 5
#define ARROW_T_BOOL 6
#define ARROW_T_LIST 12
#define ARROW_T_STRUCT 13
#define ARROW_T_LARGE_UTF8 20
#define ARROW_T_LARGE_LIST 21

/* enum Precision (short) */
#define ARROW_HALF 0
#define ARROW_SINGLE 1
#define ARROW_DOUBLE 2

/* table Message */
#define MESSAGE_VERSION 0
#define MESSAGE_HEADER_TYPE 1
#define MESSAGE_HEADER 2
#define MESSAGE_BODY_LENGTH 3
#define MESSAGE_CUSTOM_METADATA 4
/* table Schema */
#define SCHEMA_ENDIANNESS 0
#define SCHEMA_FIELDS 1
#define SCHEMA_CUSTOM_METADATA 2
#define SCHEMA_FEATURES 3
/* table Field */
#define FIELD_NAME 0
#define FIELD_NULLABLE 1
#define FIELD_TYPE_TYPE 2
#define FIELD_TYPE 3
#define FIELD_DICTIONARY 4
#define FIELD_CHILDREN 5
#define FIELD_CUSTOM_METADATA 6
/* table KeyValue */
#define KEYVALUE_KEY 0
#define KEYVALUE_VALUE 1
/* table Int / FloatingPoint */
#define INT_BIT_WIDTH 0
#define INT_IS_SIGNED 1
#define FLOATING_PRECISION 0
/* table RecordBatch; structs FieldNode{length, null_count} and Buffer{offset, length}: 16 bytes */
#define BATCH_LENGTH 0
#define BATCH_NODES 1
#define BATCH_BUFFERS 2
#define BATCH_COMPRESSION 3

#endif
