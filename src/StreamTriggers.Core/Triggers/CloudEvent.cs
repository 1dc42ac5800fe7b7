using System.Buffers;
using System.Text.Json;

namespace StreamTriggers.Triggers;

/// <summary>
/// The trigger topic's message body: a CloudEvents 1.0 structured-mode JSON envelope around the trigger
/// <c>data</c> object (DESIGN.md section 5). <c>type</c> is <c>io.streamtriggers.&lt;trigger type&gt;</c>,
/// <c>subject</c> the session, <c>time</c> when it was detected.
/// </summary>
public static class CloudEvent
{
    public const string ContentType = "application/cloudevents+json; charset=utf-8";
    public const string TypePrefix = "io.streamtriggers.";

    public static void Write(Utf8JsonWriter w, Trigger t, string source)
    {
        w.WriteStartObject();
        w.WriteString("specversion"u8, "1.0");
        w.WriteString("id"u8, t.Id);
        w.WriteString("source"u8, source);
        w.WriteString("type"u8, TypeName(t.Type));
        TriggerJson.WriteTime(w, "time"u8, t.DetectedAtMs);
        w.WriteString("subject"u8, t.SessionId);
        w.WriteString("datacontenttype"u8, "application/json");
        w.WritePropertyName("data"u8);
        TriggerJson.WriteData(w, t);
        w.WriteEndObject();
    }

    // The envelope's type per trigger type, built once (not per trigger).
    private static readonly string[] TypeNames = [.. Enum.GetValues<TriggerType>().Select(t => TypePrefix + TriggerTypes.Name(t))];

    private static string TypeName(TriggerType type) => TypeNames[(int)type];

    public static byte[] Serialize(Trigger t, string source) =>
        Buffers.ScratchBuffer.Json((t, source), TriggerJson.WriterOptions, static (w, x) => Write(w, x.t, x.source));
}
