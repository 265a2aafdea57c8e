using System.Text;
using System.Text.Json;

namespace SandboxRunner.Configuration;

/// <summary>
/// Finds keys given twice in one JSON object. System.Text.Json keeps the last of them without a word, so
/// <c>"network_policy": "deny"</c> … <c>"network_policy": "none"</c> ran with <c>none</c>, and a reader of the
/// file sees the first. Every JSON the runner reads from a user goes through this before its fields are read.
/// </summary>
public static class DuplicateKeys
{
    /// <summary>More than this many repeated keys are not listed one by one.</summary>
    private const int MaxReported = 20;

    /// <summary>
    /// Each repeated key as a problem naming its JSON path (<c>$.environments.node.setup</c>), in file order;
    /// empty when there is none. The text must already be known to be valid JSON under <paramref name="options"/>.
    /// </summary>
    public static IReadOnlyList<Problem> Find(ReadOnlySpan<byte> utf8Json, JsonReaderOptions options)
    {
        var problems = new List<Problem>();
        var reader = new Utf8JsonReader(utf8Json, options);

        // One frame per open object or array: the object's keys so far, or the array's next index.
        var frames = new Stack<Frame>();
        string? pendingKey = null;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    var path = frames.Count == 0 ? "$" : ChildPath(frames.Peek(), pendingKey);
                    frames.Push(new Frame(path, reader.TokenType == JsonTokenType.StartObject ? new HashSet<string>(StringComparer.Ordinal) : null));
                    pendingKey = null;
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    frames.Pop();
                    if (frames.Count > 0)
                    {
                        frames.Peek().Index++;
                    }

                    break;
                case JsonTokenType.PropertyName:
                    var key = KeyOf(ref reader);
                    var frame = frames.Peek();
                    if (!frame.Keys!.Add(key) && problems.Count < MaxReported)
                    {
                        problems.Add(new Problem(
                            ChildPath(frame, key),
                            $"the key \"{key}\" is given more than once in this object; JSON keeps only the last, so which one you meant is unclear: keep one"));
                    }

                    pendingKey = key;
                    break;
                default:
                    // A value: in an array it takes the next index; in an object it ends the pending key.
                    if (frames.Count > 0)
                    {
                        frames.Peek().Index++;
                    }

                    pendingKey = null;
                    break;
            }
        }

        return problems;
    }

    /// <summary>The key's text; a name whose escapes do not decode (a lone surrogate) is compared by its raw bytes.</summary>
    private static string KeyOf(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            return Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    private static string ChildPath(Frame parent, string? key) =>
        parent.Keys is null ? $"{parent.Path}[{parent.Index}]"
        : key is not null && IsPlainName(key) ? $"{parent.Path}.{key}"
        : $"{parent.Path}[{JsonSerializer.Serialize(key ?? "")}]";

    private static bool IsPlainName(string key) =>
        key.Length > 0 && !char.IsDigit(key[0]) && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '$');

    private sealed class Frame(string path, HashSet<string>? keys)
    {
        public string Path { get; } = path;

        /// <summary>Null for an array.</summary>
        public HashSet<string>? Keys { get; } = keys;

        public int Index { get; set; }
    }
}
