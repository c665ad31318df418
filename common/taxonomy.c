/* taxonomy.c — the table of architecture §6, in the order the plans list it. */
#include "common/taxonomy.h"

#include <string.h>

static const struct taxonomy taxonomy_table[] = {
    {"attack.dos", "Tấn công từ chối dịch vụ", "Denial of service"},
    {"attack.spoofing", "Tấn công giả mạo", "Spoofing"},
    {"attack.malware", "Tấn công sử dụng mã độc", "Malware"},
    {"attack.intrusion", "Tấn công truy cập trái phép, chiếm quyền điều khiển",
     "Unauthorised access, takeover"},
    {"attack.defacement", "Tấn công thay đổi giao diện", "Defacement"},
    {"attack.ransomware", "Tấn công mã hóa phần mềm, dữ liệu, thiết bị",
     "Encryption of software, data, devices"},
    {"attack.destruction", "Tấn công phá hoại thông tin, dữ liệu, phần mềm",
     "Destruction of information, data, software"},
    {"attack.espionage", "Tấn công nghe trộm, gián điệp, lấy cắp thông tin, dữ liệu",
     "Eavesdropping, espionage, data theft"},
    {"attack.combined", "Tấn công tổng hợp sử dụng kết hợp nhiều hình thức", "Combined attack"},
    {"attack.other", "Các hình thức tấn công mạng khác", "Other attack"},
    {"fault.power", "Sự cố nguồn điện", "Power failure"},
    {"fault.link", "Sự cố đường kết nối Internet", "Internet link failure"},
    {"fault.software", "Sự cố do lỗi phần mềm, phần cứng, ứng dụng",
     "Software/hardware/application fault"},
    {"fault.overload", "Sự cố liên quan đến quá tải hệ thống", "System overload"},
    {"fault.other", "Sự cố khác do lỗi hệ thống, thiết bị, phần mềm, hạ tầng",
     "Other system fault"},
    {"operator.hardware", "Lỗi cập nhật, thay đổi, cấu hình phần cứng",
     "Hardware change/config error"},
    {"operator.software", "Lỗi cập nhật, thay đổi, cấu hình phần mềm",
     "Software change/config error"},
    {"operator.policy", "Lỗi liên quan đến chính sách và thủ tục ATTT",
     "Security policy/procedure error"},
    {"operator.forced_stop", "Lỗi dừng dịch vụ vì lý do bắt buộc", "Mandatory service stop"},
    {"operator.other", "Lỗi khác của người quản trị, vận hành", "Other operator error"},
    {"disaster", "Thiên tai, thảm họa tự nhiên", "Natural disaster"},
};

const struct taxonomy *taxonomy_find(const char *code)
{
    for (size_t i = 0; i < sizeof(taxonomy_table) / sizeof(taxonomy_table[0]); i++)
        if (strcmp(taxonomy_table[i].code, code) == 0)
            return &taxonomy_table[i];
    return NULL;
}

const struct taxonomy *taxonomy_all(size_t *count)
{
    *count = sizeof(taxonomy_table) / sizeof(taxonomy_table[0]);
    return taxonomy_table;
}
