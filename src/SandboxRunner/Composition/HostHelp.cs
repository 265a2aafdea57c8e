using System.Text;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace SandboxRunner.Host.Composition;

/// <summary>
/// <c>--help</c> as plain text a pipeline log keeps readable: a <c>usage:</c> line made from the command's own
/// settings, what the command does (its <c>About</c>), each argument and option with its description, and, for the
/// server and <c>run</c>, the exit codes a pipeline branches on.
/// </summary>
internal sealed class HostHelp(TextWriter output, IReadOnlyDictionary<string, string> about) : IHelpProvider
{
    private const string App = "sandbox-runner";

    /// <summary>The options every command takes; listed last, after the command's own.</summary>
    private static readonly HashSet<string> Common = new(StringComparer.Ordinal) { "repo", "verbose" };

    /// <summary>Writes the help itself and gives the parser nothing to render.</summary>
    public IEnumerable<IRenderable> Write(ICommandModel model, ICommandInfo? command)
    {
        output.Write(command is null || (command.IsDefaultCommand && command.Parent is null) ? Root(model) : Verb(command));
        output.Flush();
        return [];
    }

    private string Root(ICommandModel model)
    {
        var text = new StringBuilder();
        text.Append($"usage: {App} [--repo PATH] [--verbose]           serve MCP over stdio (what MCP clients start)\n");
        text.Append($"       {App} COMMAND [ARGS] [--repo PATH] [--verbose]\n\n");
        text.Append(about.GetValueOrDefault("")).Append("\ncommands:\n");
        foreach (var (name, description) in Commands(model as ICommandContainer, ""))
        {
            text.Append($"  {name,-18} {description}\n");
        }

        text.Append($"\n`{App} COMMAND --help` tells more.\n\n").Append(ExitCodes.Text).Append('\n');
        return text.ToString();
    }

    private string Verb(ICommandInfo command)
    {
        var path = Path(command);
        var text = new StringBuilder();
        if (command.IsBranch)
        {
            text.Append($"usage: {App} {path} COMMAND [ARGS] [--repo PATH] [--verbose]\n\ncommands:\n");
            foreach (var (name, description) in Commands(command as ICommandContainer, path + " "))
            {
                text.Append($"  {name,-18} {description}\n");
            }

            return text.ToString();
        }

        var parameters = Ordered(command).ToList();
        text.Append($"usage: {App} {path}");
        foreach (var parameter in parameters)
        {
            text.Append(' ').Append(Token(parameter));
        }

        text.Append("\n\n").Append(about.GetValueOrDefault(path, command.Description ?? "")).Append('\n');
        if (parameters.Count > 0)
        {
            text.Append('\n');
        }

        foreach (var parameter in parameters.Where(p => p.Description is not null))
        {
            text.Append($"  {Name(parameter),-22} {parameter.Description}\n");
        }

        if (path == "run")
        {
            text.Append('\n').Append(ExitCodes.Text).Append('\n');
        }

        return text.ToString();
    }

    private static IEnumerable<(string Name, string Description)> Commands(ICommandContainer? container, string prefix)
    {
        foreach (var child in container?.Commands.Where(c => !c.IsHidden && !c.IsDefaultCommand) ?? [])
        {
            if (child.IsBranch)
            {
                foreach (var leaf in Commands(child as ICommandContainer, prefix + child.Name + " "))
                {
                    yield return leaf;
                }

                continue;
            }

            var arguments = string.Concat(child.Parameters.OfType<ICommandArgument>().OrderBy(a => a.Position).Select(a => " " + Token(a)));
            yield return (prefix + child.Name + arguments, child.Description ?? "");
        }
    }

    private static string Path(ICommandInfo command)
    {
        var names = new List<string>();
        for (var c = command; c is not null; c = c.Parent)
        {
            names.Insert(0, c.Name);
        }

        return string.Join(' ', names);
    }

    /// <summary>Arguments, then the command's own options, then those every command takes (a sub-command's come from its branch).</summary>
    private static IEnumerable<ICommandParameter> Ordered(ICommandInfo command)
    {
        var all = new List<ICommandParameter>();
        for (var c = command; c is not null; c = c.Parent)
        {
            all.AddRange(c.Parameters.Where(p => !p.IsHidden && !all.Any(seen => Name(seen) == Name(p))));
        }

        return all.OfType<ICommandArgument>().OrderBy(a => a.Position).Cast<ICommandParameter>()
            .Concat(all.OfType<ICommandOption>().Where(o => !Common.Contains(o.LongNames[0])))
            .Concat(all.OfType<ICommandOption>().Where(o => Common.Contains(o.LongNames[0])));
    }

    private static string Token(ICommandParameter parameter) => parameter switch
    {
        ICommandArgument a => a.IsRequired ? a.Value : $"[{a.Value}]",
        _ => $"[{Name(parameter)}]",
    };

    private static string Name(ICommandParameter parameter) => parameter switch
    {
        ICommandArgument a => a.Value,
        ICommandOption o => $"--{o.LongNames[0]}{(o.ValueName is { } value ? " " + value : "")}",
        _ => "?",
    };
}
