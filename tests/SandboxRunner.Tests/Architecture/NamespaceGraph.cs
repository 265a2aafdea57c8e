using Assembly = System.Reflection.Assembly;
using ArchUnitNET.Domain;
using ArchUnitNET.Loader;

namespace SandboxRunner.Tests.Architecture;

/// <summary>One arrow between two of our namespaces, named without the <c>SandboxRunner.</c> prefix (<c>Runs → Git</c>).</summary>
public sealed record Arrow(string From, string To)
{
    public override string ToString() => $"{From} → {To}";
}

/// <summary>
/// Who uses whom among the namespaces of the built library (SandboxRunner.Core) and host (sandbox-runner), read
/// by ArchUnitNET from their IL: signatures, fields, attributes and method bodies (calls, <c>new</c>, casts),
/// lambdas and async state machines included. Each arrow keeps the type pairs that make it, for the message.
/// </summary>
/// <remarks>
/// Only types in <c>SandboxRunner.*</c> namespaces count, on both ends: the host's top-level <c>Program</c>
/// (global namespace, the composition root) and compiler-generated helpers have no layer of their own.
/// </remarks>
public sealed class NamespaceGraph
{
    private const string Prefix = "SandboxRunner.";

    private static readonly Lazy<NamespaceGraph> Built = new(() => new NamespaceGraph(
        new ArchLoader().LoadAssemblies(Assembly.Load("SandboxRunner.Core"), Assembly.Load("sandbox-runner")).Build()));

    private NamespaceGraph(ArchUnitNET.Domain.Architecture architecture)
    {
        var arrows = new Dictionary<Arrow, SortedSet<string>>();
        foreach (var type in architecture.Types)
        {
            if (Layer(type.Namespace?.FullName) is not { } from)
            {
                continue;
            }

            foreach (var dependency in type.Dependencies)
            {
                if (Layer(dependency.Target?.Namespace?.FullName) is { } to && to != from)
                {
                    var arrow = new Arrow(from, to);
                    if (!arrows.TryGetValue(arrow, out var pairs))
                    {
                        arrows[arrow] = pairs = new SortedSet<string>(StringComparer.Ordinal);
                    }

                    pairs.Add($"{Declared(type)} uses {Declared(dependency.Target!)}");
                }
            }
        }

        Arrows = arrows.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)[.. kv.Value]);
    }

    /// <summary>The graph of the assemblies this test run was built against, read once per test run.</summary>
    public static NamespaceGraph Current => Built.Value;

    /// <summary>Every arrow, with the "<c>Type uses Type</c>" pairs that make it.</summary>
    public IReadOnlyDictionary<Arrow, IReadOnlyList<string>> Arrows { get; }

    /// <summary><c>SandboxRunner.Boxes.Docker</c> → <c>Boxes.Docker</c>; null for namespaces that are not ours.</summary>
    private static string? Layer(string? ns) =>
        ns is not null && ns.StartsWith(Prefix, StringComparison.Ordinal) && ns.Length > Prefix.Length ? ns[Prefix.Length..] : null;

    /// <summary>The type a reader finds in the source: a lambda's closure or a state machine is named by the type that declares it.</summary>
    private static string Declared(IType type)
    {
        var name = type.FullName[(type.Namespace!.FullName.Length + 1)..];
        var cut = name.IndexOfAny(['+', '<', '/', '`']);
        return cut > 0 ? name[..cut] : name;
    }
}
