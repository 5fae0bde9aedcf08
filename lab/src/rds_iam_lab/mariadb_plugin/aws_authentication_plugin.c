/*
 * Lab stand-in for the RDS MySQL/MariaDB server authentication plugin.
 *
 * Named AWSAuthenticationPlugin so that the exact RDS statement
 *   CREATE USER 'u'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'
 * works against the lab server. The client is asked for mysql_clear_password;
 * the token it sends is handed to the lab daemon over a unix socket together
 * with the database id, the login name, the transport kind and the client's
 * address. The daemon answers 'Y' (accept) or 'N' (refuse).
 *
 * Wire format to the daemon (all integers big-endian u32):
 *   "AWSV2" then 5 fields, each: length, bytes
 *     db_id, user, transport ("1" = unix socket, "?" = TCP), client address, token
 *   reply: one byte 'Y' or 'N'.
 * The client address tells the daemon which endpoint the client dialled: the
 * relays of the lab's logical databases connect from loopback addresses of
 * their own (lab/relay.py). The daemon still reads "AWSV1" frames (4 fields,
 * no client address) from a plugin built before.
 *
 * TLS: the plugin API (MYSQL_PLUGIN_VIO_INFO) tells TCP from a unix socket but
 * not TLS from plain TCP. The lab server therefore runs with
 * require_secure_transport=ON: a plain TCP client is refused by the server
 * before this plugin runs, so the token never reaches the verifier; users also
 * get REQUIRE SSL from the collection, as on RDS.
 *
 * Part of the dbauth.rds_iam lab; GPL-3.0-or-later.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <mysql/plugin_auth.h>

static char *verifier_socket;
static char *db_id;

static MYSQL_SYSVAR_STR(verifier_socket, verifier_socket,
                        PLUGIN_VAR_READONLY | PLUGIN_VAR_RQCMDARG,
                        "Unix socket of the lab token verifier", NULL, NULL, "");
static MYSQL_SYSVAR_STR(db_id, db_id, PLUGIN_VAR_READONLY | PLUGIN_VAR_RQCMDARG,
                        "RDS identifier of the database this server stands for",
                        NULL, NULL, "");

static struct st_mysql_sys_var *plugin_vars[] = {
    MYSQL_SYSVAR(verifier_socket), MYSQL_SYSVAR(db_id), NULL};

/* "1" = unix socket (local), "?" = TCP: the plugin API cannot tell TLS from
   plain TCP; the lab server runs with require_secure_transport=ON, so plain TCP
   logins are refused by the server before any plugin runs. */
static const char *transport(MYSQL_PLUGIN_VIO *vio)
{
  MYSQL_PLUGIN_VIO_INFO vinfo;
  memset(&vinfo, 0, sizeof(vinfo));
  vio->info(vio, &vinfo);
  return vinfo.protocol == MYSQL_VIO_SOCKET ? "1" : "?";
}

static int put_field(unsigned char *out, const void *data, uint32_t len)
{
  out[0] = (unsigned char)(len >> 24);
  out[1] = (unsigned char)(len >> 16);
  out[2] = (unsigned char)(len >> 8);
  out[3] = (unsigned char)len;
  if (len)
    memcpy(out + 4, data, len);
  return (int)(4 + len);
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* 1 = accepted, 0 = refused or verifier unreachable */
static int ask_verifier(const char *user, size_t user_len, const char *tls,
                        const char *client, size_t client_len,
                        const unsigned char *token, size_t token_len)
{
  struct sockaddr_un addr;
  struct timeval timeout = {15, 0};
  size_t db_len = db_id ? strlen(db_id) : 0;
  size_t total = 5 + 20 + db_len + user_len + strlen(tls) + client_len + token_len;
  unsigned char *msg;
  unsigned char answer = 0;
  int fd, pos = 0, ok = 0;

  if (!verifier_socket || !*verifier_socket || strlen(verifier_socket) >= sizeof(addr.sun_path))
    return 0;
  msg = malloc(total);
  if (!msg)
    return 0;
  memcpy(msg, "AWSV2", 5);
  pos = 5;
  pos += put_field(msg + pos, db_id, (uint32_t)db_len);
  pos += put_field(msg + pos, user, (uint32_t)user_len);
  pos += put_field(msg + pos, tls, (uint32_t)strlen(tls));
  pos += put_field(msg + pos, client, (uint32_t)client_len);
  pos += put_field(msg + pos, token, (uint32_t)token_len);

  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, verifier_socket);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        write_all(fd, msg, (size_t)pos) == 0 && read(fd, &answer, 1) == 1)
      ok = answer == 'Y';
    close(fd);
  }
  memset(msg, 0, total);
  free(msg);
  return ok;
}

static int aws_auth_authenticate(MYSQL_PLUGIN_VIO *vio, MYSQL_SERVER_AUTH_INFO *info)
{
  unsigned char *packet;
  int len, ok;

  /* the first read switches the client to mysql_clear_password */
  len = vio->read_packet(vio, &packet);
  if (len < 0)
    return CR_ERROR;
  /* the account must have been created with AS 'RDS' (known once the client spoke) */
  if (info->auth_string_length != 3 || memcmp(info->auth_string, "RDS", 3) != 0)
    return CR_ERROR;
  info->password_used = PASSWORD_USED_YES;
  while (len > 0 && packet[len - 1] == '\0') /* mysql_clear_password sends a trailing NUL */
    len--;
  if (len == 0)
    return CR_ERROR;

  ok = ask_verifier(info->user_name, info->user_name_length, transport(vio),
                    info->host_or_ip ? info->host_or_ip : "",
                    info->host_or_ip ? (size_t)info->host_or_ip_length : 0,
                    packet, (size_t)len);
  return ok ? CR_OK : CR_ERROR;
}

static struct st_mysql_auth aws_auth_handler = {
    MYSQL_AUTHENTICATION_INTERFACE_VERSION,
    "mysql_clear_password",
    aws_auth_authenticate,
    NULL,
    NULL};

maria_declare_plugin(aws_authentication_plugin){
    MYSQL_AUTHENTICATION_PLUGIN,
    &aws_auth_handler,
    "AWSAuthenticationPlugin",
    "dbauth.rds_iam lab",
    "Lab stand-in for RDS IAM database authentication (token check by the lab daemon)",
    PLUGIN_LICENSE_GPL,
    NULL,
    NULL,
    0x0100,
    NULL,
    plugin_vars,
    "1.0",
    MariaDB_PLUGIN_MATURITY_STABLE} maria_declare_plugin_end;
