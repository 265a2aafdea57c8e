using System.Text.RegularExpressions;

namespace SandboxRunner.Policy;

/// <summary>
/// Run and task ids become folder names, container labels and git ref components, so they are held to
/// one narrow pattern: the original accepted <c>..</c> as a run id and deleted the repository with it.
/// </summary>
public static partial class Ids
{
    public const string Rule = "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (1-64 characters, letters, digits, '.', '_' or '-', not starting with '.', '_' or '-'), contain no '..' and not end in '.lock'";

    /// <summary><see cref="IsValid"/> as a JSON Schema (ECMA-262) pattern, for the tools' input schemas.</summary>
    public const string Pattern = @"^(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

    public static bool IsValid(string? id) =>
        id is not null && IdPattern().IsMatch(id) && !id.EndsWith(".lock", StringComparison.Ordinal) && !id.Contains("..", StringComparison.Ordinal);

    /// <summary>Run ids made here sort by time, so the newest run is easy to find on disk.</summary>
    public static string NewRunId(TimeProvider clock) =>
        $"run-{clock.GetUtcNow():yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex IdPattern();
}
