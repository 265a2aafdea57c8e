using System.Text.RegularExpressions;
using SandboxRunner.Tests.Configuration;

namespace SandboxRunner.Tests.Docs;

/// <summary>
/// The README is a short front page whose first commands are a newcomer's path on their own repository, and
/// every page it and docs/ link to (and every heading they link into) exists.
/// </summary>
public sealed partial class DocumentationTests
{
    private static string Root => RepositoryRoot.Path;

    private static string Readme => File.ReadAllText(Path.Combine(Root, "README.md"));

    private static IEnumerable<string> Pages() =>
        [Path.Combine(Root, "README.md"), Path.Combine(Root, "SECURITY.md"), .. Directory.GetFiles(Path.Combine(Root, "docs"), "*.md")];

    [Fact]
    public void The_readme_is_a_short_front_page()
    {
        var lines = Readme.Split('\n').Length;

        Assert.True(lines < 250, $"README.md has {lines} lines; reference material belongs in docs/");
    }

    [Fact]
    public void The_readmes_first_two_commands_set_the_machine_up_and_check_the_users_own_repository_then_run_the_tests()
    {
        var block = FirstBash().Match(Readme);
        var commands = block.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('#')[0].Trim()).ToList();

        Assert.Equal(["bash .ci/setup && sandbox-runner doctor --repo /path/to/your/repo", "bash .ci/run"], commands.Take(2));
    }

    [Fact]
    public void The_readme_links_every_docs_page()
    {
        var linked = Link().Matches(Readme).Select(m => m.Groups[1].Value.Split('#')[0]).ToHashSet(StringComparer.Ordinal);

        Assert.All(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md"), page => Assert.Contains($"docs/{Path.GetFileName(page)}", linked));
    }

    [Fact]
    public void Every_relative_link_names_a_file_and_a_heading_that_exist()
    {
        var broken = new List<string>();
        foreach (var page in Pages())
        {
            foreach (Match link in Link().Matches(File.ReadAllText(page)))
            {
                var target = link.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }

                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var file = hash < 0 ? target : target[..hash];
                var full = file.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, file));
                if (!File.Exists(full) && !Directory.Exists(full))
                {
                    broken.Add($"{Path.GetRelativePath(Root, page)}: {target} (no such file)");
                }
                else if (hash >= 0 && full.EndsWith(".md", StringComparison.Ordinal) && !Anchors(full).Contains(target[(hash + 1)..]))
                {
                    broken.Add($"{Path.GetRelativePath(Root, page)}: {target} (no such heading)");
                }
            }
        }

        Assert.True(broken.Count == 0, string.Join('\n', broken));
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation but '-' and '_' dropped, spaces as '-'.</summary>
    private static HashSet<string> Anchors(string page)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var fenced = false;
        foreach (var line in File.ReadAllLines(page))
        {
            fenced ^= line.StartsWith("```", StringComparison.Ordinal);
            if (!fenced && Heading().Match(line) is { Success: true } heading)
            {
                var text = heading.Groups[1].Value.Trim().ToLowerInvariant();
                anchors.Add(new string(text.Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or ' ').ToArray()).Replace(' ', '-'));
            }
        }

        return anchors;
    }

    [GeneratedRegex(@"```bash\n(.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex FirstBash();

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^#{1,6} (.+)$")]
    private static partial Regex Heading();
}
