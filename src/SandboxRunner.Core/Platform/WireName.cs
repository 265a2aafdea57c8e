using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json.Serialization;

namespace SandboxRunner.Platform;

/// <summary>
/// An enum value's name on the wire: its <see cref="JsonStringEnumMemberNameAttribute"/>, the name JSON writes.
/// The one way the runner turns an enum into text (results, progress, logs, the command line's reports), so
/// what a caller reads in a message is what it reads in the JSON, and a renamed member cannot change either.
/// </summary>
public static class WireName
{
    public static string Of<T>(T value) where T : struct, Enum =>
        Names<T>.Map.TryGetValue(value, out var name) ? name : throw new ArgumentOutOfRangeException(nameof(value), value, $"{typeof(T).Name} has no such member");

    /// <summary>Read once per enum type; every member must name itself, or the type fails on first use.</summary>
    private static class Names<T> where T : struct, Enum
    {
        public static readonly FrozenDictionary<T, string> Map = Enum.GetValues<T>().ToFrozenDictionary(
            v => v,
            v => typeof(T).GetField(v.ToString(), BindingFlags.Public | BindingFlags.Static)?.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name
                 ?? throw new InvalidOperationException($"{typeof(T).Name}.{v} has no [JsonStringEnumMemberName]"));
    }
}
