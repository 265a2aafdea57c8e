namespace SandboxRunner.Configuration;

/// <summary>One thing wrong with an input: the field it is in and the rule it broke.</summary>
public sealed record Problem(string Field, string Rule)
{
    public override string ToString() => $"{Field}: {Rule}";
}

/// <summary>
/// Input that was refused before anything was created. Carries every problem found, so a caller
/// fixes them in one round instead of one per call.
/// </summary>
public sealed class InvalidInputException : Exception
{
    public InvalidInputException(string source, IReadOnlyList<Problem> problems)
        : base(Format(source, problems))
    {
        Source = source;
        Problems = problems;
    }

    public InvalidInputException(string source, string field, string rule)
        : this(source, [new Problem(field, rule)])
    {
    }

    public new string Source { get; }

    public IReadOnlyList<Problem> Problems { get; }

    private static string Format(string source, IReadOnlyList<Problem> problems) =>
        problems.Count == 1
            ? $"{source}: {problems[0]}"
            : $"{source} has {problems.Count} problems:\n" + string.Join('\n', problems.Select(p => $"- {p}"));
}
