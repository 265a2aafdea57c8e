namespace SandboxRunner.Tests.Architecture;

/// <summary>Judges a graph's arrows against the layer rules and the listed exceptions; pure, so the judging itself has tests.</summary>
public static class LayerCheck
{
    /// <summary>One message per arrow that breaks <paramref name="rule"/> and is not listed: the arrow, the types that make it, the fix.</summary>
    public static IReadOnlyList<string> NewArrows(
        LayerRule rule, IReadOnlyDictionary<Arrow, IReadOnlyList<string>> arrows, IReadOnlyList<LayerException> exceptions) =>
        arrows
            .Where(kv => rule.Forbids(kv.Key) && !exceptions.Any(e => e.Arrow == kv.Key))
            .Select(kv => (Arrow: kv.Key, Made: rule.Breaking(kv.Value)))
            .Where(broken => broken.Made.Count > 0)
            .OrderBy(broken => broken.Arrow.ToString(), StringComparer.Ordinal)
            .Select(broken =>
                $"{broken.Arrow} breaks the layer rule \"{rule.Name}\".\n" +
                $"  made by: {string.Join("; ", broken.Made)}\n" +
                $"  fix: {rule.Fix}.")
            .ToList();

    /// <summary>One message per listed exception whose arrow no longer exists: the list must shrink with the code.</summary>
    public static IReadOnlyList<string> StaleExceptions(
        IReadOnlyDictionary<Arrow, IReadOnlyList<string>> arrows, IReadOnlyList<LayerException> exceptions) =>
        exceptions
            .Where(e => !arrows.ContainsKey(e.Arrow))
            .Select(e =>
                $"{e.Arrow} is listed as an exception ({e.RemovedBy}) but no longer occurs.\n" +
                "  fix: delete its line from LayerRules.Exceptions, so the rule now holds for it too.")
            .ToList();

    /// <summary>One message per listed exception that breaks no rule: it excuses nothing and would hide nothing, so it is a mistake.</summary>
    public static IReadOnlyList<string> NeedlessExceptions(IReadOnlyList<LayerRule> rules, IReadOnlyList<LayerException> exceptions) =>
        exceptions
            .Where(e => !rules.Any(r => r.Forbids(e.Arrow)))
            .Select(e => $"{e.Arrow} is listed as an exception ({e.RemovedBy}) but breaks no layer rule.\n  fix: delete its line from LayerRules.Exceptions.")
            .ToList();
}
