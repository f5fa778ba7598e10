# A stand-in for nixpkgs' lib and NixOS module system, with just what flake.nix's
# nixosModules.default uses (there is no nixpkgs checkout here). It calls the module once with
# `config.services.skyrec` = the given settings over the defaults of the module's own option
# declarations (checked against their types, as the module system does), resolves mkIf and
# mkDefault, and returns the resulting config with the failed assertions and the warnings.
# Each function behaves as its namesake in nixpkgs' lib for the values the module gives it.
{
  # The directory holding flake.nix.
  flakeDir,
  # services.skyrec as a user sets it.
  settings,
  # outPath of the package that the stand-in `self` provides for the host system.
  packageOutPath,
}:
let
  inherit (builtins)
    all
    attrNames
    concatStringsSep
    elem
    filter
    isAttrs
    isBool
    isList
    isPath
    isString
    listToAttrs
    map
    mapAttrs
    match
    replaceStrings
    substring
    toJSON
    ;

  type = name: check: { inherit name check; };
  types = {
    str = type "str" isString;
    bool = type "bool" isBool;
    # types.path: a Nix path, or a string that starts with "/".
    path = type "path" (x: isPath x || (isString x && substring 0 1 x == "/"));
    package = type "package" (x: isAttrs x && x ? outPath);
    enum = values: type "one of ${toJSON values}" (x: elem x values);
    nullOr = t: type "null or ${t.name}" (x: x == null || t.check x);
    listOf = t: type "list of ${t.name}" (x: isList x && all t.check x);
    attrsOf = t: type "attribute set of ${t.name}" (x: isAttrs x && all t.check (builtins.attrValues x));
  };

  escapeShellArg =
    arg:
    let
      string = toString arg;
    in
    if match "[[:alnum:],._+:@%/-]+" string == null then
      "'${replaceStrings [ "'" ] [ "'\\''" ] string}'"
    else
      string;

  lib = {
    inherit types;
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = name: {
      _type = "option";
      type = types.bool;
      default = false;
      description = "Whether to enable ${name}.";
    };
    mkIf = condition: content: {
      _type = "if";
      inherit condition content;
    };
    mkDefault = content: {
      _type = "override";
      priority = 1000;
      inherit content;
    };
    literalExpression = text: {
      _type = "literalExpression";
      inherit text;
    };
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    inherit filter escapeShellArg;
    escapeShellArgs = args: concatStringsSep " " (map escapeShellArg args);
    concatMapStringsSep = sep: f: xs: concatStringsSep sep (map f xs);
    mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (builtins.attrNames attrs);
    hasPrefix = prefix: s: substring 0 (builtins.stringLength prefix) s == prefix;
    head = builtins.head;
    toInt =
      s:
      let
        n = builtins.fromJSON s;
      in
      if match "[1-9][0-9]*|0" s != null then n else throw "toInt: ${s} is not a decimal integer";
  };

  drv = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  pkgs = {
    stdenv.hostPlatform.system = "x86_64-linux";
    openssh = drv "openssh";
    git = drv "git";
    bash = drv "bash";
    gnupg = drv "gnupg";
  };

  self.packages.x86_64-linux.default = {
    type = "derivation";
    name = "skyrec";
    outPath = packageOutPath;
  };
  flake = import (flakeDir + "/flake.nix");
  outputs = flake.outputs {
    inherit self;
    nixpkgs.lib = throw "the module must use the host's lib (its `lib` argument), not the flake's nixpkgs";
  };

  evalModule =
    module:
    let
      evaluated = module {
        inherit lib pkgs;
        config = {
          services.skyrec = cfg;
          nix.package = drv "nix";
          # nixos/modules/installer/tools/tools.nix (26.05): nixos-rebuild-ng built with its
          # program named nixos-rebuild. pkgs has no nixos-rebuild here: in 26.05 it is an alias.
          system.build.nixos-rebuild = drv "nixos-rebuild-ng";
        };
      };
      declared = evaluated.options.services.skyrec;
      unknown = filter (n: !(declared ? ${n})) (attrNames settings);
      checked =
        name: opt: value:
        if opt.type.check value then
          value
        else
          throw "The option `services.skyrec.${name}' is not of type `${opt.type.name}': ${toJSON value}";
      cfg =
        if unknown != [ ] then
          throw "The option `services.skyrec.${builtins.head unknown}' does not exist."
        else
          mapAttrs (name: opt: checked name opt (settings.${name} or opt.default)) declared;

      isFalseIf = v: isAttrs v && (v._type or null) == "if" && !v.condition;
      resolve =
        v:
        if isAttrs v && (v._type or null) == "if" then
          resolve v.content
        else if isAttrs v && (v._type or null) == "override" then
          resolve v.content
        else if isAttrs v && !(v ? outPath) then
          mapAttrs (_: resolve) (removeFalseIfs v)
        else if isList v then
          map resolve v
        else
          v;
      removeFalseIfs =
        set:
        listToAttrs (
          map (name: {
            inherit name;
            value = set.${name};
          }) (filter (name: !(isFalseIf set.${name})) (attrNames set))
        );
      config = if isFalseIf evaluated.config then { } else resolve evaluated.config;
    in
    {
      inherit config;
      failedAssertions = map (a: a.message) (filter (a: !a.assertion) (config.assertions or [ ]));
      warnings = config.warnings or [ ];
      options = mapAttrs (name: opt: {
        type = opt.type.name;
        hasDescription = opt ? description && opt.description != "";
        default = if opt.type.name == "package" then opt.default.outPath else opt.default;
      }) declared;
    };
in
{
  default = evalModule outputs.nixosModules.default;
  skyrec = evalModule outputs.nixosModules.skyrec;
}
