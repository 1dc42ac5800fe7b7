using System.Security.Cryptography;
using System.Text;

namespace StreamTriggers.Worker.Operations;

/// <summary>
/// Stands in for personal data (user ids, emails) in log lines: a keyed hash, so lines about one customer can be
/// correlated without the log holding who it is, and a dictionary of known emails cannot reverse it without the key.
/// </summary>
public sealed class LogPseudonyms
{
    private readonly byte[] _key;

    /// <param name="key">The secret; empty means a random key, valid for this process only.</param>
    public LogPseudonyms(string key)
    {
        _key = string.IsNullOrEmpty(key) ? RandomNumberGenerator.GetBytes(32) : Encoding.UTF8.GetBytes(key);
    }

    /// <summary><c>"-"</c> for none, else <c>"~"</c> and 12 hex digits of HMAC-SHA256(key, value).</summary>
    public string Of(string? value)
    {
        if (value is null)
        {
            return "-";
        }

        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(value), mac);
        return "~" + Convert.ToHexStringLower(mac[..6]);
    }
}
