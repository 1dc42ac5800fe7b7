using System.Security.Cryptography;
using System.Text;

namespace StreamTriggers.Triggers;

/// <summary>
/// Deterministic trigger ids: a name-based UUID (RFC 9562 version 5) of what fired, its subject and its deadline,
/// so a trigger re-emitted after a crash or replayed from the same input carries the same id.
/// </summary>
public static class TriggerId
{
    // Fixed namespace for StreamTriggers ids; changing it changes every id downstream has seen.
    private static readonly byte[] Namespace = Guid.Parse("6f1d3c1e-8a4b-5e2f-9c7d-2b5a4e8f1a30").ToByteArray(bigEndian: true);

    public static string Create(TriggerType type, string subject, long deadlineMs) =>
        Create(TriggerTypes.Name(type), subject, deadlineMs);

    public static string Create(string typeName, string subject, long deadlineMs)
    {
        string name = $"{typeName}|{subject}|{deadlineMs}";
        int nameBytes = Encoding.UTF8.GetByteCount(name);
        Span<byte> input = nameBytes + 16 <= 512 ? stackalloc byte[nameBytes + 16] : new byte[nameBytes + 16];
        Namespace.CopyTo(input);
        Encoding.UTF8.GetBytes(name, input[16..]);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // RFC 9562 version 5 is defined on SHA-1; this is an id, not a security boundary.
        SHA1.HashData(input, hash);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString("D");
    }

    /// <summary>FNV-1a 64 of a string: stable across processes and machines, unlike <see cref="string.GetHashCode()"/>.</summary>
    public static ulong StableHash(string value) => StableHash(value.AsSpan());

    /// <summary>The same hash of a string's characters.</summary>
    public static ulong StableHash(ReadOnlySpan<char> value)
    {
        ulong h = 14_695_981_039_346_656_037UL;
        foreach (char c in value)
        {
            h = (h ^ (byte)c) * 1_099_511_628_211UL;
            h = (h ^ (byte)(c >> 8)) * 1_099_511_628_211UL;
        }

        return h == 0 ? 1 : h;
    }
}
