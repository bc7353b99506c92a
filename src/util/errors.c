/* errors.c -- error codes, operation names, version. */
#include "basistrees.h"
#include "util/alloc.h"
#include <string.h>

const char *bt_version(void) { return BT_VERSION_STRING; }

const char *bt_strerror(int code)
{
    switch (code) {
    case BT_OK: return "success";
    case BT_ENOTFOUND: return "key not found";
    case BT_EEXISTS: return "key already exists";
    case BT_EINVAL: return "invalid argument";
    case BT_ECORRUPT: return "data is corrupt";
    case BT_EPROOF: return "proof is invalid";
    case BT_EIO: return "I/O error";
    case BT_ENOSPC: return "no space left on device";
    case BT_ENOMEM: return "out of memory";
    case BT_ELIMIT: return "limit exceeded";
    case BT_EBUSY: return "resource busy";
    case BT_EBADSTATE: return "handle is in a failed or wrong state";
    case BT_EKEYLOW: return "key is not above negative infinity";
    case BT_EKEYHIGH: return "key is not below positive infinity";
    case BT_EKEYLEN: return "wrong key length";
    case BT_EVALLEN: return "wrong value length";
    case BT_ENOTSUP: return "operation not supported";
    default: return "unknown error";
    }
}

const char *bt_error_class(int code)
{
    switch (code) {
    case BT_EEXISTS: return "key_already_exists";
    case BT_ENOTFOUND: return "key_not_found";
    case BT_EKEYLOW: return "key_not_above_negative_infinity";
    case BT_EKEYHIGH: return "key_not_below_positive_infinity";
    case BT_EKEYLEN: return "wrong_key_length";
    case BT_EVALLEN: return "wrong_value_length";
    default: return NULL;
    }
}

static const char *const op_names[] = {"Lookup", "Insert", "Update",
                                       "InsertOrUpdate", "Remove", "RemoveIfExists"};

const char *bt_op_name(bt_op_type type)
{
    if ((unsigned)type >= sizeof op_names / sizeof op_names[0]) return NULL;
    return op_names[type];
}

int bt_op_parse(bt_op_type *out, const char *name)
{
    if (!name) return BT_EINVAL;
    for (unsigned i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (strcmp(name, op_names[i]) == 0) {
            *out = (bt_op_type)i;
            return 0;
        }
    }
    return BT_EINVAL;
}

void bt_free(void *ptr) { bt_mem_free(ptr); }
